import Foundation
import EmbeddingRWKV
import GRDB
import RWKVKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A retrieval collection in a directory (format version 2, docs/collection-format-v2.md): documents
/// split into passages, each with an L2-normalised [RETR] embedding row and a cached reranker state,
/// in memory-mapped segment files; documents, passages, metadata, the BM25 index and the manifest in
/// SQLite (`collection.sqlite`, WAL). Search: metadata filter, dense scan and/or BM25, fusion, offline
/// reranking from the states, grouping by document.
///
/// Thread-safe: any number of concurrent readers and one writer at a time (add, delete, compact). One
/// process writes a collection at a time (an advisory lock on `lock`); readers in other processes see
/// every committed write without reopening. See ARCHITECTURE.md ("Collections").
public final class DocumentCollection: @unchecked Sendable {  // all mutable state behind `rw` / `writer` / `refreshLock`
    public let url: URL
    public let manifest: CollectionManifest
    public let models: RetrievalModels?
    public let isWritable: Bool
    public let codec: StateCodec
    /// When compaction runs by itself after writes.
    public let compaction: CompactionPolicy
    /// A version-1 collection opened read-only (from its own files).
    public let isLegacy: Bool
    /// The database has `metadata_index` (collections made before it get it at a writable open).
    private(set) var metadataIndexed = false

    let db: any DatabaseWriter
    let segmentsURL: URL
    private let lockFD: Int32
    /// A version-1 collection's data files, standing in for segment 1.
    let legacyFiles: (emb: String, states: String)?

    let rw = ReadWriteLock()
    let writer = NSLock()
    let refreshLock = NSLock()
    let pool = WorkspacePool()
    /// The HNSW index (issue 11), behind its own lock.
    let ann = ANNState()
    /// The int8 / 1-bit embedding codes (ANN kinds `int8`, `binary`), behind their own lock.
    let codes = CodesState()
    /// The masks of recent filters, each for one database generation.
    let filterMasks = FilterMaskCache()
    /// Old segment files compaction unlinks in the background, and how long the last removal took.
    let removals = DispatchGroup()
    let unlinkTimes = SecondsRecord()
    /// Guarded by `rw`.
    var table = PassageTable()
    var embSegments: [Int: SegmentFile] = [:]
    var stateSegments: [Int: SegmentFile] = [:]
    var sealedPairs: Set<Int> = []
    /// Times this process reloaded the whole passage table (at open, after compactions): guarded by `refreshLock`.
    var fullReloads = 0

    public var dimension: Int { manifest.dimension }

    // MARK: create / open

    static func databaseURL(_ url: URL) -> URL { url.appendingPathComponent(CollectionSchema.databaseName) }

    /// Creates a new, empty collection in `url` (the directory may exist but must not hold a collection).
    public static func create(at url: URL, models: RetrievalModels,
                              configuration: CollectionConfiguration = .init(),
                              compaction: CompactionPolicy = .init()) throws -> DocumentCollection {
        _ = try PassageSplitter(tokenizer: models.tokenizer, options: configuration.passages)  // checks the options
        return try create(at: url, manifest: newManifest(models: models, configuration: configuration), models: models, compaction: compaction)
    }

    /// Creates a new, empty collection described by `manifest` (`models` may be nil: a merge destination).
    static func create(at url: URL, manifest: CollectionManifest, models: RetrievalModels?,
                       compaction: CompactionPolicy = .init()) throws -> DocumentCollection {
        let fm = FileManager.default
        if fm.fileExists(atPath: databaseURL(url).path) || fm.fileExists(atPath: url.appendingPathComponent(LegacyCollection.manifestName).path) {
            throw RetrievalError.alreadyExists(path: url.path)
        }
        do { try fm.createDirectory(at: url.appendingPathComponent(CollectionSchema.segmentsFolder), withIntermediateDirectories: true) } catch {
            throw RetrievalError.io(path: url.path, operation: "create directory", message: "\(error.localizedDescription)")
        }
        // The schema and manifest in one transaction in a temporary file, renamed into place: a directory
        // without `collection.sqlite` is not a collection yet.
        let tmp = url.appendingPathComponent(CollectionSchema.databaseName + ".creating")
        try? fm.removeItem(at: tmp)
        do {
            let queue = try DatabaseQueue(path: tmp.path, configuration: CollectionSchema.configuration())
            try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
            try queue.write { db in try CollectionSchema.create(db, manifest: manifest) }
            try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
            try queue.close()
        } catch let e as RetrievalError { throw e } catch {
            throw RetrievalError.database(path: tmp.path, message: "\(error)")
        }
        for suffix in ["-wal", "-shm"] { try? fm.removeItem(atPath: tmp.path + suffix) }
        guard rename(tmp.path, databaseURL(url).path) == 0 else { throw RetrievalError.errno(tmp.path, "rename") }
        syncDirectory(url.path)
        return try open(at: url, models: models, writable: true, compaction: compaction)
    }

    static func newManifest(models: RetrievalModels, configuration: CollectionConfiguration) -> CollectionManifest {
        var manifest = CollectionManifest(
            format: CollectionManifest.formatName, version: CollectionManifest.currentVersion,
            created: CollectionSchema.timestamp(), model: models.fingerprint,
            embeddingCheckpoint: configuration.embeddingCheckpoint, rerankerCheckpoint: configuration.rerankerCheckpoint,
            inputProtocol: configuration.inputProtocol.rawValue, dimension: models.model.width, stateLayers: models.stateLayers,
            statePrecision: configuration.statePrecision,
            shiftPrecision: configuration.statePrecision.tokenShift.rawValue,
            stateTemplate: StateReranker.documentTemplate,
            queryInstruction: Embedder.defaultInstruction,
            passageTokens: configuration.passages.maxTokens, passageOverlap: configuration.passages.overlapTokens,
            split: configuration.passages.split,
            shardCount: configuration.shard.count, shardIndex: configuration.shard.index)
        manifest.weightPrecision = models.model.precision
        return manifest
    }

    /// True when `url` holds a collection of either version.
    public static func exists(at url: URL) -> Bool {
        FileManager.default.fileExists(atPath: databaseURL(url).path)
            || FileManager.default.fileExists(atPath: url.appendingPathComponent(LegacyCollection.manifestName).path)
    }

    /// Reads a collection's manifest without opening it (version 2, or version 1's `collection.json`).
    public static func readManifest(at url: URL) throws -> CollectionManifest {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RetrievalError.notACollection(path: url.path)
        }
        let dbPath = databaseURL(url).path
        if FileManager.default.fileExists(atPath: dbPath) {
            do {
                let queue = try DatabaseQueue(path: dbPath, configuration: CollectionSchema.configuration(readonly: true))
                defer { try? queue.close() }
                return try queue.read { db in try checkedManifest(db, url: url) }
            } catch let e as RetrievalError { throw e } catch {
                throw RetrievalError.database(path: dbPath, message: "\(error)")
            }
        }
        if FileManager.default.fileExists(atPath: url.appendingPathComponent(LegacyCollection.manifestName).path) {
            return try LegacyCollection.readManifest(at: url)
        }
        throw RetrievalError.notACollection(path: url.path)
    }

    static func checkedManifest(_ db: Database, url: URL) throws -> CollectionManifest {
        let manifest = try CollectionSchema.readManifest(db, path: databaseURL(url).path)
        guard manifest.format == CollectionManifest.formatName else {
            throw RetrievalError.corrupt(path: databaseURL(url).path, reason: "not a collection manifest")
        }
        guard manifest.version == CollectionManifest.currentVersion else {
            throw RetrievalError.unsupportedVersion(path: url.path, found: manifest.version, supported: CollectionManifest.currentVersion)
        }
        return manifest
    }

    /// Opens an existing collection. `models` (needed for adding and searching) must be the ones the
    /// collection was built with. A writable open takes the collection's write lock and removes what an
    /// interrupted write left (bytes past the committed ends, segment files no row refers to). A version-1
    /// collection opens read-only (writable: `RetrievalError.legacyFormat`).
    public static func open(at url: URL, models: RetrievalModels?, writable: Bool = false,
                            compaction: CompactionPolicy = .init()) throws -> DocumentCollection {
        let manifest = try readManifest(at: url)
        if let models {
            let given = models.fingerprint
            if given.embedding != manifest.model.embedding || given.reranker != manifest.model.reranker {
                throw RetrievalError.modelMismatch(collection: manifest.model.description, given: given.description)
            }
        }
        if manifest.version == 1 {
            if writable { throw RetrievalError.legacyFormat(path: url.path, version: 1) }
            let (queue, files) = try LegacyCollection.inMemoryDatabase(at: url, manifest: manifest)
            return try DocumentCollection(url: url, manifest: manifest, models: models, writable: false, db: queue,
                                          compaction: compaction, legacyFiles: files)
        }
        let pool = try CollectionSchema.open(path: databaseURL(url).path)
        return try DocumentCollection(url: url, manifest: manifest, models: models, writable: writable, db: pool,
                                      compaction: compaction, legacyFiles: nil)
    }

    /// Opens the collection in `url`, creating it first when the directory holds none (with `configuration`,
    /// default `.init()`). A `configuration` given for an existing collection must match it (state precision,
    /// input protocol, passage options): else `RetrievalError.configurationMismatch` naming the difference.
    public static func openOrCreate(at url: URL, models: RetrievalModels,
                                    configuration: CollectionConfiguration? = nil,
                                    compaction: CompactionPolicy = .init()) throws -> DocumentCollection {
        if exists(at: url) {
            let manifest = try readManifest(at: url)
            if manifest.version == CollectionManifest.currentVersion, let difference = configuration?.difference(from: manifest) {
                throw RetrievalError.configurationMismatch("\(url.path): \(difference)")
            }
            return try open(at: url, models: models, writable: true, compaction: compaction)
        }
        return try create(at: url, models: models, configuration: configuration ?? .init(), compaction: compaction)
    }

    private init(url: URL, manifest: CollectionManifest, models: RetrievalModels?, writable: Bool,
                 db: any DatabaseWriter, compaction: CompactionPolicy, legacyFiles: (emb: String, states: String)?) throws {
        self.url = url
        self.manifest = manifest
        self.models = models
        self.db = db
        self.compaction = compaction
        self.legacyFiles = legacyFiles
        isLegacy = legacyFiles != nil
        isWritable = writable
        segmentsURL = url.appendingPathComponent(CollectionSchema.segmentsFolder)
        codec = try StateCodec(manifest: manifest)
        if writable {
            let path = url.appendingPathComponent(CollectionSchema.lockName).path
            let fd = posixOpen(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw RetrievalError.errno(path, "open") }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                close(fd)
                throw RetrievalError.locked(path: url.path)
            }
            lockFD = fd
        } else {
            lockFD = -1
        }
        do {
            if writable {
                try db.write { db in  // collections made before the log and the metadata index
                    try PassageDeletionLog.create(db)
                    try MetadataIndex.createIfMissing(db)
                    // No query read it, and keeping it up to date was a third of compaction's switch
                    // transaction (measured at 50,000 moved passages: 0.38 s with it, 0.23 s without).
                    try db.execute(sql: "DROP INDEX IF EXISTS passages_by_segment")
                }
                try removeOrphanSegments()
                removeOrphanANNFiles()
            }
            metadataIndexed = try db.read { db in try db.tableExists(MetadataIndex.tableName) }
            try refresh()
        } catch {
            if lockFD >= 0 { close(lockFD) }
            throw RetrievalError.database(error, path: Self.databaseURL(url).path)
        }
    }

    deinit {
        if lockFD >= 0 { close(lockFD) }
    }

    /// Segment files no `segments` row names: what a crash before a commit left (a new pair, a compaction's output).
    private func removeOrphanSegments() throws {
        try? FileManager.default.createDirectory(at: segmentsURL, withIntermediateDirectories: true)
        let known = try db.read { db in
            Set(try Row.fetchAll(db, sql: "SELECT id, kind FROM segments").map { SegmentFile.name(id: $0[0], kind: SegmentFile.Kind(rawValue: $0[1]) ?? .emb) })
        }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: segmentsURL.path)) ?? []
        var removed = false
        for f in files where (f.hasSuffix(".emb") || f.hasSuffix(".states")) && !known.contains(f) {
            try? FileManager.default.removeItem(at: segmentsURL.appendingPathComponent(f))
            removed = true
        }
        if removed { syncDirectory(segmentsURL.path) }
    }

    func headerFields(_ kind: SegmentFile.Kind) -> [UInt32] { Self.segmentHeaderFields(kind, codec: codec) }

    func segmentPath(id: Int, kind: SegmentFile.Kind) -> String {
        if let legacyFiles { return kind == .emb ? legacyFiles.emb : legacyFiles.states }
        return SegmentFile.url(in: segmentsURL, id: id, kind: kind).path
    }

    // MARK: staying current

    struct SegmentRecord: Sendable {
        var id: Int
        var kind: SegmentFile.Kind
        var sealed: Bool
        var bytes: Int
        var key: String { "\(id).\(kind.rawValue)" }
    }

    private struct Snapshot {
        var generation: Int64
        var segments: [SegmentRecord]
        var rows: [LivePassage]
        /// Passage ids removed since the loaded generation (a delta; empty with `full`).
        var removed: [Int64]
        /// Passages in the table at `generation` (checks the delta).
        var total: Int
        var full: Bool
    }

    private struct SegmentVanished: Error {}

    /// Brings the in-memory passage view and the segment mappings up to `changes.generation`: a delta
    /// (new passages: id > the highest loaded; removed ones: `PassageDeletionLog`), or a full reload after a
    /// compaction (a segment went, or the log was emptied); a remap of segments that grew. One indexed
    /// read when nothing changed.
    func refresh() throws {
        refreshLock.lock()
        defer { refreshLock.unlock() }
        for attempt in 0..<5 {
            do { return try refreshChecked() } catch is SegmentVanished where attempt < 4 {
                continue  // a compaction committed and unlinked files between our read and our open: read again
            } catch is SegmentVanished {
                throw RetrievalError.io(path: segmentsURL.path, operation: "refresh",
                                        message: "segment files were replaced by five compactions in a row while reading")
            }
        }
    }

    private func refreshOnce() throws {
        let current = rw.read { (table.generation, table.maxID, table.count + table.damaged.count, Set(segmentKeys())) }
        let snapshot: Snapshot? = try db.read { db in
            let generation = try Int64.fetchOne(db, sql: "SELECT generation FROM changes") ?? 0
            if generation == current.0 { return nil }
            let segments = try Row.fetchAll(db, sql: "SELECT id, kind, sealed, bytes FROM segments ORDER BY id").map {
                SegmentRecord(id: try $0.decode(atIndex: 0), kind: SegmentFile.Kind(rawValue: try $0.decode(atIndex: 1)) ?? .emb,
                              sealed: try $0.decode(Int.self, atIndex: 2) != 0, bytes: try $0.decode(atIndex: 3))
            }
            // A segment this view maps is gone: a compaction repointed passages, reload them all.
            var full = current.0 < 0 || !current.3.isSubset(of: Set(segments.map(\.key)))
            var rows: [LivePassage] = [], removed: [Int64] = []
            if !full, let log = try PassageDeletionLog.removed(db, after: current.0) {
                removed = log
                rows = try Row.fetchAll(db, sql: "SELECT \(LivePassage.columns) FROM passages WHERE id > ?", arguments: [current.1]).map { try LivePassage(row: $0) }
            } else {
                full = true
            }
            let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM passages") ?? 0
            if full { rows = try Row.fetchAll(db, sql: "SELECT \(LivePassage.columns) FROM passages").map { try LivePassage(row: $0) } }
            return Snapshot(generation: generation, segments: segments, rows: rows, removed: removed, total: total, full: full)
        }
        guard let snapshot else { return }
        try apply(snapshot)
        guard rw.read({ table.generation }) < 0 else { return }
        // A full reload reads the rows and their count in one transaction: if even that does not add up,
        // the database disagrees with itself (a damaged page: found by fuzz-collection, where reloading
        // again recursed until the stack overflowed). A delta that did not add up: reload fully, once.
        if snapshot.full {
            throw RetrievalError.corrupt(path: Self.databaseURL(url).path,
                                         reason: "the passages table reads \(rw.read { table.count + table.damaged.count }) rows but counts \(snapshot.total)")
        }
        try refreshOnce()
    }

    /// `refreshOnce`, with SQLite's own failures (a damaged database page or record) as `RetrievalError`s.
    private func refreshChecked() throws {
        do { try refreshOnce() } catch let e as SegmentVanished { throw e } catch let e as RetrievalError { throw e } catch {
            throw RetrievalError.database(error, path: Self.databaseURL(url).path)
        }
    }

    private func segmentKeys() -> [String] {
        embSegments.keys.map { "\($0).emb" } + stateSegments.keys.map { "\($0).states" }
    }

    private func apply(_ s: Snapshot) throws {
        // Open new segments outside the lock; remap grown ones inside it (readers hold it while scanning).
        var opened: [String: SegmentFile] = [:]
        let existing = rw.read { Set(segmentKeys()) }
        for r in s.segments where !existing.contains(r.key) {
            let path = segmentPath(id: r.id, kind: r.kind)
            guard FileManager.default.fileExists(atPath: path) else { throw SegmentVanished() }
            opened[r.key] = try SegmentFile.open(path, id: r.id, kind: r.kind, committedBytes: r.bytes, fields: headerFields(r.kind),
                                                 writable: isWritable, legacy: isLegacy)
        }
        try rw.write {
            var emb: [Int: SegmentFile] = [:], states: [Int: SegmentFile] = [:]
            for r in s.segments {
                let seg = opened[r.key] ?? (r.kind == .emb ? embSegments[r.id] : stateSegments[r.id])!
                if seg.committedBytes != r.bytes { try seg.setCommitted(r.bytes) }
                if r.kind == .emb { emb[r.id] = seg } else { states[r.id] = seg }
            }
            embSegments = emb
            stateSegments = states
            sealedPairs = Set(s.segments.filter { $0.sealed && $0.kind == .emb }.map(\.id))
            if s.full {
                table = PassageTable()
                fullReloads += 1
            }
            for id in s.removed { table.remove(id) }
            for p in s.rows { table.insert(p, intact: passageIntact(p)) }
            // The delta must leave exactly the committed passages (else something was missed: reload).
            table.generation = table.count + table.damaged.count == s.total ? s.generation : -1
        }
    }

    /// Applies this process's own committed change (the writer knows it; no reload needed).
    func applyCommitted(removed: [Int64], added: [LivePassage], generation: Int64, segments: [SegmentFile]) throws {
        refreshLock.lock()
        defer { refreshLock.unlock() }
        try rw.write {
            for seg in segments {
                try seg.setCommitted(seg.committedBytes)
                if seg.kind == .emb { embSegments[seg.id] = seg } else { stateSegments[seg.id] = seg }
            }
            guard generation == table.generation + 1 else {
                table.generation = -1  // out of step (should not happen with one writer): reload below
                return
            }
            for id in removed { table.remove(id) }
            for p in added { table.insert(p, intact: passageIntact(p)) }
            table.generation = generation
        }
        if rw.read({ table.generation }) < 0 { try refreshOnce() }
    }

    // MARK: reading

    /// Documents in the collection.
    public var count: Int {
        (try? refresh())
        return rw.read { table.byDocument.count }
    }

    public var passageCount: Int {
        (try? refresh())
        return rw.read { table.count }
    }

    public func contains(id: String) -> Bool {
        (try? refresh())
        return rw.read { table.byDocument[id] != nil }
    }

    /// `db.read`, with SQLite's own failures (a damaged page or record) as `RetrievalError.database`.
    func readDatabase<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try db.read(body) } catch { throw RetrievalError.database(error, path: Self.databaseURL(url).path) }
    }

    /// The SQL of `filter` over `documents d`: through the metadata index when the database has one.
    func filterCondition(_ filter: MetadataFilter) -> (sql: String, arguments: [DatabaseValue]) {
        filter.sqlCondition(metadataColumn: "d.metadata", indexedDocument: metadataIndexed ? "d.id" : nil)
    }

    /// The SQL of `filter` over `passages p`: through the metadata index straight from each passage's
    /// document id when the database has one (measured, 100k passages matching: 106 ms, against 148 ms
    /// through the documents table), else the documents' JSON.
    func passageFilterCondition(_ filter: MetadataFilter) -> (sql: String, arguments: [DatabaseValue]) {
        if metadataIndexed { return filter.sqlCondition(metadataColumn: "d.metadata", indexedDocument: "p.document") }
        let c = filterCondition(filter)
        return ("p.document IN (SELECT d.id FROM documents d WHERE \(c.sql))", c.arguments)
    }

    /// All documents (or those whose metadata matches `filter`), sorted by id.
    public func list(where filter: MetadataFilter? = nil) throws -> [DocumentSummary] {
        try refresh()
        let rows: [(String, Int, String?)] = try readDatabase { db in
            var sql = "SELECT d.id, length(CAST(d.text AS BLOB)), d.metadata FROM documents d"
            var arguments: [DatabaseValue] = []
            if let filter {
                let c = filterCondition(filter)
                sql += " WHERE " + c.sql
                arguments = c.arguments
            }
            sql += " ORDER BY d.id"
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map {
                (try $0.decode(atIndex: 0), try $0.decode(atIndex: 1), try $0.decode(atIndex: 2))
            }
        }
        return rw.read {
            rows.compactMap { id, bytes, metadata in
                guard let ids = table.byDocument[id] else { return nil }
                let ps = ids.compactMap { table.byID[$0] }
                return DocumentSummary(id: id, stateTokens: ps.reduce(0) { $0 + $1.stateTokens },
                                       embeddingTokens: ps.reduce(0) { $0 + $1.embeddingTokens }, textBytes: bytes,
                                       hasState: ps.allSatisfy(\.hasState), passages: ps.count, metadata: metadata)
            }
        }
    }

    /// All documents, sorted by id.
    public func list() -> [DocumentSummary] { (try? list(where: nil)) ?? [] }


    /// A document's passages in order.
    public func passages(of id: String) -> [PassageSummary] {
        (try? refresh())
        return rw.read {
            (table.byDocument[id] ?? []).compactMap { table.byID[$0] }.map {
                PassageSummary(id: $0.id, document: $0.document, ordinal: $0.ordinal, start: $0.start, end: $0.end,
                               embeddingTokens: $0.embeddingTokens, stateTokens: $0.stateTokens, hasState: $0.hasState)
            }
        }
    }

    /// A document's text and metadata as stored.
    public func document(id: String) -> Document? {
        try? db.read { db in
            try Row.fetchOne(db, sql: "SELECT id, text, metadata FROM documents WHERE id = ?", arguments: [id])
                .map { Document(id: try $0.decode(atIndex: 0), text: try $0.decode(atIndex: 1), metadata: try $0.decode(atIndex: 2)) }
        }
    }

    /// Texts of documents by id (one query).
    func texts(of ids: Set<String>) throws -> [String: (text: String, metadata: String?)] {
        guard !ids.isEmpty else { return [:] }
        return try readDatabase { db in
            var out: [String: (String, String?)] = [:]
            let list = Array(ids)
            for chunkStart in stride(from: 0, to: list.count, by: 500) {
                let chunk = Array(list[chunkStart..<min(list.count, chunkStart + 500)])
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                for row in try Row.fetchAll(db, sql: "SELECT id, text, metadata FROM documents WHERE id IN (\(marks))",
                                            arguments: StatementArguments(chunk)) {
                    out[try row.decode(atIndex: 0)] = (try row.decode(atIndex: 1), try row.decode(atIndex: 2))
                }
            }
            return out
        }
    }

    /// The stored (L2-normalised) embedding of a passage (the first passage of a document by default).
    public func embedding(id: String, passage: Int = 0) -> [Float]? {
        (try? refresh())
        return rw.read {
            guard let pid = table.byDocument[id]?.first(where: { table.byID[$0]?.ordinal == passage }),
                  let p = table.byID[pid] else { return nil }
            return embeddingRow(p)
        }
    }

    /// Caller holds the read lock.
    func embeddingRow(_ p: LivePassage) -> [Float]? {
        guard table.damaged[p.id] == nil, let base = embSegments[p.embSegment]?.base else { return nil }
        let row = (base + SegmentFile.headerSize + p.embRow * dimension * 4).assumingMemoryBound(to: Float.self)
        return Array(UnsafeBufferPointer(start: row, count: dimension))
    }

    /// The cached reranker state of a passage, decoded to fp32 (nil when it has none or it fails its checksum).
    public func state(id: String, passage: Int = 0) -> RWKVState? {
        (try? refresh())
        return rw.read {
            guard let pid = table.byDocument[id]?.first(where: { table.byID[$0]?.ordinal == passage }),
                  let p = table.byID[pid] else { return nil }
            return decodeState(p)
        }
    }

    /// Caller holds the read lock. Checks the blob's CRC-32C first: a damaged state is never scored.
    func decodeState(_ p: LivePassage) -> RWKVState? {
        guard p.hasState, let seg = stateSegments[p.stateSegment!], let base = seg.base, p.stateLength == codec.blobBytes,
              p.stateOffset >= SegmentFile.headerSize, p.stateOffset <= seg.committedBytes - p.stateLength else { return nil }
        let blob = base + p.stateOffset
        guard CRC32C.checksum(UnsafeRawBufferPointer(start: blob, count: p.stateLength)) == p.stateCRC else { return nil }
        return codec.decode(blob)
    }

    public func stats() -> CollectionStats {
        (try? refresh())
        let fm = FileManager.default
        var files: [String: Int] = [:]
        var sqlite = 0
        for suffix in ["", "-wal", "-shm"] {
            let p = Self.databaseURL(url).path + suffix
            if let size = (try? fm.attributesOfItem(atPath: p))?[.size] as? Int {
                files[CollectionSchema.databaseName + suffix] = size
                sqlite += size
            }
        }
        let annInfo = self.annStats()
        let retention = stateRetention
        let textBytes = (try? db.read { db in try Int.fetchOne(db, sql: "SELECT coalesce(sum(length(CAST(text AS BLOB))), 0) FROM documents") }) ?? 0
        return rw.read {
            var segmentBytes = 0, headers = 0
            for seg in Array(embSegments.values) + Array(stateSegments.values) {
                files[isLegacy ? (seg.path as NSString).lastPathComponent : CollectionSchema.segmentsFolder + "/" + SegmentFile.name(id: seg.id, kind: seg.kind)] = seg.committedBytes
                segmentBytes += seg.committedBytes
                headers += SegmentFile.headerSize
            }
            if let file = annInfo.file, annInfo.fileBytes > 0 { files[file] = annInfo.fileBytes }
            let live = table.liveBytes(dimension: dimension).values.reduce(0, +)
            let passages = Array(table.byID.values)
            let rows = embSegments.values.reduce(0) { $0 + ($1.committedBytes - SegmentFile.headerSize) / (dimension * 4) }
            return CollectionStats(
                documents: table.byDocument.count, passages: passages.count,
                passagesWithState: passages.filter(\.hasState).count,
                documentsWithState: table.byDocument.values.filter { ids in ids.allSatisfy { table.byID[$0]?.hasState ?? false } }.count,
                stateTokens: passages.reduce(0) { $0 + $1.stateTokens }, embeddingTokens: passages.reduce(0) { $0 + $1.embeddingTokens },
                textBytes: textBytes, dimension: dimension, stateLayers: manifest.stateLayers,
                statePrecision: manifest.statePrecision, shiftPrecision: manifest.shiftPrecision,
                embeddingBytesPerPassage: dimension * 4, stateBytesPerPassage: codec.blobBytes,
                fileBytes: files, sqliteBytes: sqlite, deadBytes: max(0, segmentBytes - headers - live), segmentBytes: segmentBytes,
                deadRows: rows - passages.count, model: manifest.model, ann: annInfo, stateRetention: retention)
        }
    }

    func requireWritable() throws {
        if isLegacy { throw RetrievalError.legacyFormat(path: url.path, version: 1) }
        guard isWritable else { throw RetrievalError.readOnly(path: url.path) }
    }
}

@inline(__always)
func posixOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 {
    open(path, flags, mode)
}
