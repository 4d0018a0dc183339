import Foundation
import EmbeddingRWKV
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A document to add: its id, text and optional metadata (a JSON object as text).
public struct Document: Sendable, Equatable {
    public var id: String
    public var text: String
    public var metadata: String?

    /// Without an id, a stable one is derived from the content: `sha256:` + 16 hex digits of the text's hash.
    public init(id: String? = nil, text: String, metadata: String? = nil) {
        self.id = id ?? Self.contentID(text)
        self.text = text
        self.metadata = metadata
    }

    public static func contentID(_ text: String) -> String {
        "sha256:" + SHA256Hasher.hex(of: text).prefix(16)
    }

    /// SHA-256 over text and metadata (what decides whether re-adding changes anything).
    var contentHash: [UInt8] {
        var h = SHA256Hasher()
        h.update(integer: UInt64(text.utf8.count))
        h.update(text)
        h.update(metadata ?? "")
        return h.finalize()
    }
}

/// A stored document's description (without its text).
public struct DocumentSummary: Sendable, Equatable {
    public var id: String
    /// Tokens of the state template (`Instruct ...\nDocument: {text}\n`) and of the embedding input.
    public var stateTokens: Int
    public var embeddingTokens: Int
    public var textBytes: Int
    public var hasState: Bool
    public var metadata: String?
}

/// What happened to one document of an `add`.
public struct AddedDocument: Sendable, Equatable {
    public enum Outcome: String, Sendable { case added, updated, unchanged }
    public var id: String
    public var outcome: Outcome
    /// Tokens processed (0 when unchanged).
    public var tokens: Int
}

/// Reported after each committed (durable) batch.
public struct AddProgress: Sendable {
    public var documentsDone: Int
    public var documentsTotal: Int
    /// Model tokens processed so far (embedding input + state template).
    public var tokensDone: Int
    /// The documents of this batch, durable now.
    public var committed: [AddedDocument]
    /// Seconds so far in: tokenizing and hashing, the model passes, encoding states, writing + fsync.
    public var prepareSeconds = 0.0, computeSeconds = 0.0, encodeSeconds = 0.0, writeSeconds = 0.0
}

public struct AddOptions: Sendable {
    /// A batch is closed at this many documents or `batchTokens` tokens, whichever comes first.
    public var batchDocuments: Int = 64
    public var batchTokens: Int = 8192
    /// Compute and store reranker states (without them, search reranks these documents online).
    public var storeStates: Bool = true
    public init(batchDocuments: Int = 64, batchTokens: Int = 8192, storeStates: Bool = true) {
        self.batchDocuments = batchDocuments
        self.batchTokens = batchTokens
        self.storeStates = storeStates
    }
}

public struct SearchOptions: Sendable {
    public var topK: Int = 10
    /// Embedding-stage candidates that are reranked.
    public var candidates: Int = 50
    public var rerank: Bool = true
    /// Cached states decoded and scored per reranker pass (bounds memory).
    public var rerankBatch: Int = 16
    public var instruction: String = Embedder.defaultInstruction
    public init(topK: Int = 10, candidates: Int = 50, rerank: Bool = true, rerankBatch: Int = 16,
                instruction: String = Embedder.defaultInstruction) {
        self.topK = topK
        self.candidates = candidates
        self.rerank = rerank
        self.rerankBatch = rerankBatch
        self.instruction = instruction
    }
}

public struct SearchHit: Sendable {
    public enum RerankMode: String, Sendable { case offline, online }
    public var id: String
    public var text: String
    public var metadata: String?
    /// Cosine similarity of the query and document embeddings.
    public var embeddingScore: Float
    /// The reranker's logit and sigmoid (nil without reranking).
    public var rerank: RerankScore?
    public var rerankMode: RerankMode?
}

/// Seconds spent in each stage of a search.
public struct SearchTimings: Sendable, Codable {
    public var queryEmbedding: Double = 0
    public var retrieval: Double = 0
    public var stateLoad: Double = 0
    public var rerank: Double = 0
    public var total: Double = 0
}

public struct RerankResult: Sendable {
    /// Per requested id: the score and how it was computed (nil: no such document).
    public var scores: [(score: RerankScore, mode: SearchHit.RerankMode)?]
    /// Documents reranked online (no cached state).
    public var online: Int
    public var stateLoadSeconds: Double
    public var rerankSeconds: Double
}

public struct SearchResult: Sendable {
    public var hits: [SearchHit]
    public var timings: SearchTimings
    public var documentCount: Int
    public var candidatesReranked: Int
    public var onlineFallbacks: Int
}

public struct CollectionStats: Sendable {
    public var documents: Int
    public var documentsWithState: Int
    public var stateTokens: Int
    public var embeddingTokens: Int
    public var textBytes: Int
    public var dimension: Int
    public var stateLayers: Int
    public var statePrecision: StatePrecision
    public var shiftPrecision: String
    public var embeddingBytesPerDocument: Int
    public var stateBytesPerDocument: Int
    /// Bytes on disk per file (dead rows/states of replaced or deleted documents included).
    public var fileBytes: [String: Int]
    /// Rows of the embedding matrix no longer used (replaced or deleted documents).
    public var deadRows: Int
    public var model: ModelFingerprint
}

/// A retrieval collection in a directory: documents, their L2-normalised [RETR] embeddings and their cached
/// reranker states, plus search (exact cosine top-candidates, then offline reranking from the states).
///
/// Thread-safe: any number of concurrent readers (search, list, ...) and writers (add, delete; one at a
/// time). One process writes a collection at a time (an advisory lock on `lock`).
/// See ARCHITECTURE.md ("Collections") for the files and their format.
public final class DocumentCollection: @unchecked Sendable {  // all mutable state behind `rw` / `writer`
    public let url: URL
    public let manifest: CollectionManifest
    public let models: RetrievalModels?
    public let isWritable: Bool
    public let codec: StateCodec

    static let manifestName = "collection.json"
    static let logName = "documents.log"
    static let embeddingsName = "embeddings.f32"
    static let statesName = "states.bin"
    static let lockName = "lock"
    static let dataHeaderSize = 64
    static let embeddingsMagic = Array("RWEM".utf8)
    static let statesMagic = Array("RWST".utf8)

    struct Entry {
        var id: String
        var contentHash: [UInt8]
        var stateTokens: Int
        var embeddingTokens: Int
        var row: Int
        var stateOffset: Int
        var stateLength: Int
        var textOffset: Int
        var textLength: Int
        var metadata: String?
    }

    private let log: StorageFile
    private let embeddings: StorageFile
    private let states: StorageFile
    private let lockFD: Int32
    private var entries: [String: Entry] = [:]
    private var rowIDs: [String?] = []
    private var nextRow = 0
    private var nextStateOffset = DocumentCollection.dataHeaderSize
    private let rw = ReadWriteLock()
    private let writer = NSLock()
    private let pool = WorkspacePool()

    public var dimension: Int { manifest.dimension }

    // MARK: create / open

    /// Creates a new, empty collection in `url` (the directory may exist but must not hold a collection).
    public static func create(at url: URL, models: RetrievalModels,
                              configuration: CollectionConfiguration = .init()) throws -> DocumentCollection {
        let fm = FileManager.default
        let dir = url.path
        if fm.fileExists(atPath: url.appendingPathComponent(manifestName).path) {
            throw RetrievalError.alreadyExists(path: dir)
        }
        do { try fm.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw RetrievalError.io(path: dir, operation: "create directory", message: "\(error.localizedDescription)")
        }
        let c = models.model.width
        let stateLayers = models.stateLayers
        let codec = StateCodec(precision: configuration.statePrecision, layerCount: stateLayers, embeddingSize: c)
        // Data files first (a crash before the manifest leaves a directory that is not a collection yet).
        for name in [logName, embeddingsName, statesName] {
            let path = url.appendingPathComponent(name).path
            let f = try StorageFile(path: path, writable: true, create: true)
            try f.truncate(to: 0)
            var header: [UInt8]
            switch name {
            case logName: header = DocumentLog.header()
            case embeddingsName:
                var w = ByteWriter()
                w.bytes(embeddingsMagic); w.u32(1); w.u32(UInt32(c)); w.u32(0)
                header = w.data
            default:
                var w = ByteWriter()
                w.bytes(statesMagic); w.u32(1); w.u32(configuration.statePrecision.code); w.u32(UInt32(stateLayers))
                w.u32(UInt32(c)); w.u32(UInt32(codec.blobBytes))
                header = w.data
            }
            if name != logName { header += [UInt8](repeating: 0, count: dataHeaderSize - header.count) }
            try f.write(header, at: 0)
            try f.sync()
        }
        let formatter = ISO8601DateFormatter()
        let manifest = CollectionManifest(
            format: CollectionManifest.formatName, version: CollectionManifest.currentVersion,
            created: formatter.string(from: Date()), model: models.fingerprint,
            embeddingCheckpoint: configuration.embeddingCheckpoint, rerankerCheckpoint: configuration.rerankerCheckpoint,
            inputProtocol: configuration.inputProtocol.rawValue, dimension: c, stateLayers: stateLayers,
            statePrecision: configuration.statePrecision,
            shiftPrecision: configuration.statePrecision == .fp32 ? "fp32" : "fp16",
            stateTemplate: StateReranker.instruction + "Document: {text}\n",
            queryInstruction: Embedder.defaultInstruction)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(manifest)
        let tmp = url.appendingPathComponent(manifestName + ".tmp")
        let tmpFile = try StorageFile(path: tmp.path, writable: true, create: true)
        try tmpFile.truncate(to: 0)
        try tmpFile.write(Array(data), at: 0)
        try tmpFile.sync()
        guard rename(tmp.path, url.appendingPathComponent(manifestName).path) == 0 else {
            throw RetrievalError.errno(tmp.path, "rename")
        }
        syncDirectory(dir)
        return try open(at: url, models: models, writable: true)
    }

    /// Reads a collection's manifest without opening it.
    public static func readManifest(at url: URL) throws -> CollectionManifest {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RetrievalError.notACollection(path: url.path)
        }
        let path = url.appendingPathComponent(manifestName)
        guard let data = FileManager.default.contents(atPath: path.path) else {
            throw RetrievalError.notACollection(path: url.path)
        }
        struct Probe: Decodable { var format: String?; var version: Int? }
        guard let probe = try? JSONDecoder().decode(Probe.self, from: data),
              probe.format == CollectionManifest.formatName, let version = probe.version else {
            throw RetrievalError.corrupt(path: path.path, reason: "not a collection manifest")
        }
        guard version == CollectionManifest.currentVersion else {
            throw RetrievalError.unsupportedVersion(path: url.path, found: version, supported: CollectionManifest.currentVersion)
        }
        do { return try JSONDecoder().decode(CollectionManifest.self, from: data) } catch {
            throw RetrievalError.corrupt(path: path.path, reason: "\(error)")
        }
    }

    /// Opens an existing collection. `models` (needed for adding and searching) must be the ones the
    /// collection was built with. A writable open takes the collection's write lock and repairs a torn tail.
    public static func open(at url: URL, models: RetrievalModels?, writable: Bool = false) throws -> DocumentCollection {
        let manifest = try readManifest(at: url)
        if let models {
            let given = models.fingerprint
            if given.embedding != manifest.model.embedding || given.reranker != manifest.model.reranker {
                throw RetrievalError.modelMismatch(collection: manifest.model.description, given: given.description)
            }
        }
        return try DocumentCollection(url: url, manifest: manifest, models: models, writable: writable)
    }

    /// Opens the collection in `url`, creating it first when the directory holds none.
    public static func openOrCreate(at url: URL, models: RetrievalModels,
                                    configuration: CollectionConfiguration = .init()) throws -> DocumentCollection {
        if FileManager.default.fileExists(atPath: url.appendingPathComponent(manifestName).path) {
            return try open(at: url, models: models, writable: true)
        }
        return try create(at: url, models: models, configuration: configuration)
    }

    private init(url: URL, manifest: CollectionManifest, models: RetrievalModels?, writable: Bool) throws {
        self.url = url
        self.manifest = manifest
        self.models = models
        isWritable = writable
        codec = StateCodec(precision: manifest.statePrecision, layerCount: manifest.stateLayers, embeddingSize: manifest.dimension)
        func path(_ name: String) -> String { url.appendingPathComponent(name).path }
        if writable {
            let fd = posixOpen(path(Self.lockName), O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw RetrievalError.errno(path(Self.lockName), "open") }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                close(fd)
                throw RetrievalError.locked(path: url.path)
            }
            lockFD = fd
        } else {
            lockFD = -1
        }
        do {
            log = try StorageFile(path: path(Self.logName), writable: writable, create: false)
            embeddings = try StorageFile(path: path(Self.embeddingsName), writable: writable, create: false)
            states = try StorageFile(path: path(Self.statesName), writable: writable, create: false)
            try load()
        } catch {
            if lockFD >= 0 { close(lockFD) }
            throw error
        }
    }

    deinit {
        if lockFD >= 0 { close(lockFD) }
    }

    /// Replays the log; a writable open cuts a torn tail and unused data past the last record.
    private func load() throws {
        try checkHeader(embeddings, Self.embeddingsMagic, [1, UInt32(manifest.dimension)])
        try checkHeader(states, Self.statesMagic, [1, manifest.statePrecision.code, UInt32(manifest.stateLayers), UInt32(manifest.dimension)])
        try log.ensureMapped()
        guard let base = log.base else { throw RetrievalError.corrupt(path: log.path, reason: "empty log") }
        let (records, validLength, headerValid) = DocumentLog.scan(UnsafeRawBufferPointer(start: base, count: log.size))
        guard headerValid else { throw RetrievalError.corrupt(path: log.path, reason: "bad header") }
        var maxRow = -1
        var stateEnd = Self.dataHeaderSize
        for scanned in records {
            switch scanned.record {
            case let .put(p):
                if let old = entries[p.id], old.row < rowIDs.count { rowIDs[old.row] = nil }
                entries[p.id] = Entry(id: p.id, contentHash: p.contentHash, stateTokens: p.stateTokens,
                                      embeddingTokens: p.embeddingTokens, row: p.row, stateOffset: p.stateOffset,
                                      stateLength: p.stateLength, textOffset: scanned.textOffset,
                                      textLength: scanned.textLength, metadata: p.metadata)
                if p.row >= rowIDs.count { rowIDs += [String?](repeating: nil, count: p.row + 1 - rowIDs.count) }
                rowIDs[p.row] = p.id
                maxRow = max(maxRow, p.row)
                if p.stateLength > 0 { stateEnd = max(stateEnd, p.stateOffset + p.stateLength) }
            case let .delete(id):
                if let old = entries.removeValue(forKey: id), old.row < rowIDs.count { rowIDs[old.row] = nil }
            }
        }
        nextRow = maxRow + 1
        nextStateOffset = stateEnd
        let embeddingEnd = Self.dataHeaderSize + nextRow * manifest.dimension * 4
        guard embeddings.size >= embeddingEnd else {
            throw RetrievalError.corrupt(path: embeddings.path, reason: "\(embeddings.size) bytes, the log refers to \(embeddingEnd)")
        }
        guard states.size >= stateEnd else {
            throw RetrievalError.corrupt(path: states.path, reason: "\(states.size) bytes, the log refers to \(stateEnd)")
        }
        if isWritable {
            // Remove what an interrupted add left behind (never referenced by a complete record).
            if validLength < log.size { try log.truncate(to: validLength); try log.sync() }
            if embeddings.size > embeddingEnd { try embeddings.truncate(to: embeddingEnd) }
            if states.size > stateEnd { try states.truncate(to: stateEnd) }
        } else {
            log.size = validLength
            embeddings.size = embeddingEnd
            states.size = stateEnd
        }
        try embeddings.ensureMapped()
        try states.ensureMapped()
    }

    private func checkHeader(_ file: StorageFile, _ magic: [UInt8], _ fields: [UInt32]) throws {
        guard file.size >= Self.dataHeaderSize else { throw RetrievalError.corrupt(path: file.path, reason: "missing header") }
        let header = try file.read(at: 0, count: 4 + 4 * fields.count)
        guard Array(header[0..<4]) == magic else { throw RetrievalError.corrupt(path: file.path, reason: "bad magic") }
        for (i, f) in fields.enumerated() {
            let v = header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4 + 4 * i, as: UInt32.self).littleEndian }
            guard v == f else {
                throw RetrievalError.corrupt(path: file.path, reason: "header field \(i) is \(v), the manifest says \(f)")
            }
        }
    }

    // MARK: reading

    public var count: Int { rw.read { entries.count } }

    public func contains(id: String) -> Bool { rw.read { entries[id] != nil } }

    /// All documents, sorted by id.
    public func list() -> [DocumentSummary] {
        rw.read { entries.values.map(summary) }.sorted { $0.id < $1.id }
    }

    private func summary(_ e: Entry) -> DocumentSummary {
        DocumentSummary(id: e.id, stateTokens: e.stateTokens, embeddingTokens: e.embeddingTokens,
                        textBytes: e.textLength, hasState: e.stateLength > 0, metadata: e.metadata)
    }

    public func summary(id: String) -> DocumentSummary? { rw.read { entries[id].map(summary) } }

    /// A document's text and metadata as stored.
    public func document(id: String) -> Document? {
        rw.read {
            guard let e = entries[id] else { return nil }
            return Document(id: e.id, text: text(e), metadata: e.metadata)
        }
    }

    /// Caller holds the read lock.
    private func text(_ e: Entry) -> String {
        guard e.textLength > 0, let base = log.base else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: base + e.textOffset, count: e.textLength), as: UTF8.self)
    }

    /// The stored (L2-normalised) embedding of a document.
    public func embedding(id: String) -> [Float]? {
        rw.read {
            guard let e = entries[id], let base = embeddings.base else { return nil }
            let p = (base + Self.dataHeaderSize).assumingMemoryBound(to: Float.self) + e.row * manifest.dimension
            return Array(UnsafeBufferPointer(start: p, count: manifest.dimension))
        }
    }

    /// The cached reranker state of a document, decoded to fp32 (nil when the document has none).
    public func state(id: String) -> RWKVState? {
        rw.read {
            guard let e = entries[id], e.stateLength > 0, let base = states.base else { return nil }
            return codec.decode(base + e.stateOffset)
        }
    }

    public func stats() -> CollectionStats {
        rw.read {
            let withState = entries.values.filter { $0.stateLength > 0 }.count
            return CollectionStats(
                documents: entries.count, documentsWithState: withState,
                stateTokens: entries.values.reduce(0) { $0 + $1.stateTokens },
                embeddingTokens: entries.values.reduce(0) { $0 + $1.embeddingTokens },
                textBytes: entries.values.reduce(0) { $0 + $1.textLength },
                dimension: manifest.dimension, stateLayers: manifest.stateLayers,
                statePrecision: manifest.statePrecision, shiftPrecision: manifest.shiftPrecision,
                embeddingBytesPerDocument: manifest.dimension * 4, stateBytesPerDocument: codec.blobBytes,
                fileBytes: [Self.logName: log.fileLength(), Self.embeddingsName: embeddings.fileLength(), Self.statesName: states.fileLength()],
                deadRows: nextRow - entries.count, model: manifest.model)
        }
    }

    // MARK: writing

    private func requireWritable() throws -> RetrievalModels {
        guard isWritable else { throw RetrievalError.readOnly(path: url.path) }
        guard let models else { throw RetrievalError.modelsRequired("adding documents computes embeddings and states") }
        return models
    }

    /// Adds documents (replacing documents with the same id whose text or metadata changed; skipping
    /// unchanged ones), in batches. `progress` runs after each batch is durable on disk.
    @discardableResult
    public func add(_ documents: [Document], options: AddOptions = AddOptions(),
                    progress: ((AddProgress) -> Void)? = nil) throws -> [AddedDocument] {
        let models = try requireWritable()
        writer.lock()
        defer { writer.unlock() }
        let ws = pool.take()
        defer { pool.give(ws) }
        let embedder = Embedder(model: models.model, tokenizer: models.tokenizer, task: .retrieval,
                                inputProtocol: manifest.protocolValue, normalize: true)
        var results: [AddedDocument] = []
        var tokensDone = 0
        var index = 0
        let clock = ContinuousClock()
        var mark = clock.now
        var phase = [0.0, 0.0, 0.0, 0.0]
        func lap(_ i: Int) {
            let now = clock.now
            let d = (now - mark).components
            phase[i] += Double(d.seconds) + Double(d.attoseconds) * 1e-18
            mark = now
        }
        while index < documents.count {
            // Collect a batch of changed documents (unchanged ones are reported right away).
            var batch: [(doc: Document, hash: [UInt8], embeddingTokens: [Int], stateTokens: [Int], replaces: Bool)] = []
            var skipped: [AddedDocument] = []
            var batchTokens = 0
            var seen = Set<String>()
            while index < documents.count && batch.count < options.batchDocuments && batchTokens < options.batchTokens {
                let doc = documents[index]
                if seen.contains(doc.id) { break }  // a repeated id goes into the next batch, after this one
                index += 1
                let hash = doc.contentHash
                let existing = rw.read { entries[doc.id] }
                if let existing, existing.contentHash == hash, (existing.stateLength > 0) == options.storeStates {
                    skipped.append(AddedDocument(id: doc.id, outcome: .unchanged, tokens: 0))
                    continue
                }
                seen.insert(doc.id)
                let e = embedder.tokens(for: doc.text)
                let s = options.storeStates ? models.reranker.documentTokens(doc.text) : []
                batch.append((doc, hash, e, s, existing != nil))
                batchTokens += e.count + s.count
            }
            var committed = skipped
            lap(0)
            if !batch.isEmpty {
                let vectors = try models.model.embed(batch.map(\.embeddingTokens), task: .retrieval, normalize: true, workspace: ws)
                var stateBlobs: [UInt8] = []
                if options.storeStates {
                    let docStates = try models.reranker.documentStates(tokens: batch.map(\.stateTokens), workspace: ws)
                    lap(1)
                    stateBlobs = [UInt8](repeating: 0, count: docStates.count * codec.blobBytes)
                    stateBlobs.withUnsafeMutableBytes { raw in
                        for (i, s) in docStates.enumerated() { codec.encode(s, into: raw.baseAddress! + i * codec.blobBytes) }
                    }
                }
                lap(options.storeStates ? 2 : 1)
                // 1. embeddings and states, durable before any record refers to them.
                let firstRow = nextRow
                let firstState = nextStateOffset
                var matrix = [Float]()
                matrix.reserveCapacity(batch.count * dimension)
                for v in vectors { matrix += v }
                try matrix.withUnsafeBytes { raw in
                    try embeddings.write(raw, at: Self.dataHeaderSize + firstRow * dimension * 4)
                }
                try embeddings.sync()
                if !stateBlobs.isEmpty {
                    try states.write(stateBlobs, at: firstState)
                    try states.sync()
                }
                // 2. the records (one write, one sync): the commit point.
                var recordBytes: [UInt8] = []
                var newEntries: [Entry] = []
                let logStart = log.size
                for (i, item) in batch.enumerated() {
                    let put = DocumentLog.Put(
                        id: item.doc.id, contentHash: item.hash, stateTokens: item.stateTokens.count,
                        embeddingTokens: item.embeddingTokens.count, row: firstRow + i,
                        stateOffset: options.storeStates ? firstState + i * codec.blobBytes : 0,
                        stateLength: options.storeStates ? codec.blobBytes : 0,
                        text: item.doc.text, metadata: item.doc.metadata)
                    let (bytes, textOffset) = DocumentLog.encode(.put(put))
                    newEntries.append(Entry(id: put.id, contentHash: put.contentHash, stateTokens: put.stateTokens,
                                            embeddingTokens: put.embeddingTokens, row: put.row, stateOffset: put.stateOffset,
                                            stateLength: put.stateLength, textOffset: logStart + recordBytes.count + textOffset,
                                            textLength: item.doc.text.utf8.count, metadata: put.metadata))
                    recordBytes += bytes
                }
                try log.write(recordBytes, at: logStart)
                try log.sync()
                // 3. publish to readers.
                try rw.write {
                    nextRow = firstRow + batch.count
                    nextStateOffset = firstState + stateBlobs.count
                    try log.ensureMapped()
                    try embeddings.ensureMapped()
                    try states.ensureMapped()
                    if rowIDs.count < nextRow { rowIDs += [String?](repeating: nil, count: nextRow - rowIDs.count) }
                    for e in newEntries {
                        if let old = entries[e.id] { rowIDs[old.row] = nil }
                        entries[e.id] = e
                        rowIDs[e.row] = e.id
                    }
                }
                for item in batch {
                    let tokens = item.embeddingTokens.count + item.stateTokens.count
                    tokensDone += tokens
                    committed.append(AddedDocument(id: item.doc.id, outcome: item.replaces ? .updated : .added, tokens: tokens))
                }
            }
            lap(3)
            results += committed
            progress?(AddProgress(documentsDone: results.count, documentsTotal: documents.count,
                                  tokensDone: tokensDone, committed: committed, prepareSeconds: phase[0],
                                  computeSeconds: phase[1], encodeSeconds: phase[2], writeSeconds: phase[3]))
            mark = clock.now
        }
        return results
    }

    /// Deletes documents by id; returns the ids that were present (and are now gone, durably).
    @discardableResult
    public func delete(ids: [String]) throws -> [String] {
        _ = try requireWritableForDelete()
        writer.lock()
        defer { writer.unlock() }
        var present: [String] = []
        var seen = Set<String>()
        for id in ids where !seen.contains(id) && rw.read({ entries[id] != nil }) {
            seen.insert(id)
            present.append(id)
        }
        guard !present.isEmpty else { return [] }
        var bytes: [UInt8] = []
        for id in present { bytes += DocumentLog.encode(.delete(id: id)).bytes }
        try log.write(bytes, at: log.size)
        try log.sync()
        try rw.write {
            try log.ensureMapped()
            for id in present {
                if let old = entries.removeValue(forKey: id) { rowIDs[old.row] = nil }
            }
        }
        return present
    }

    private func requireWritableForDelete() throws -> Bool {
        guard isWritable else { throw RetrievalError.readOnly(path: url.path) }
        return true
    }

    // MARK: search

    /// The best documents for a query: exact cosine top-`candidates` over all embeddings, then (unless
    /// `rerank` is off) offline reranking from the cached states (online for documents without one),
    /// ordered by reranker score.
    public func search(_ query: String, options: SearchOptions = SearchOptions()) throws -> SearchResult {
        guard let models else { throw RetrievalError.modelsRequired("search embeds the query") }
        let clock = ContinuousClock()
        let start = clock.now
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
        var timings = SearchTimings()
        let ws = pool.take()
        defer { pool.give(ws) }

        let embedder = Embedder(model: models.model, tokenizer: models.tokenizer, task: .retrieval,
                                inputProtocol: manifest.protocolValue, normalize: true)
        let queryVector = try embedder.embedQueries([query], instruction: options.instruction, workspace: ws)[0]
        let t1 = clock.now
        timings.queryEmbedding = seconds(t1 - start)

        let wanted = options.rerank ? max(options.candidates, options.topK) : options.topK
        var documentCount = 0
        let candidates: [(id: String, score: Float)] = rw.read {
            documentCount = entries.count
            guard let base = embeddings.base, nextRow > 0 else { return [] }
            let matrix = UnsafePointer((base + Self.dataHeaderSize).assumingMemoryBound(to: Float.self))
            let scores = VectorSearch.scores(matrix: matrix, rows: nextRow, dimension: dimension, query: queryVector)
            return VectorSearch.topK(scores, k: wanted) { rowIDs[$0] != nil }.map { (rowIDs[$0.row]!, $0.score) }
        }
        let t2 = clock.now
        timings.retrieval = seconds(t2 - t1)

        var hits = candidates.map { SearchHit(id: $0.id, text: "", metadata: nil, embeddingScore: $0.score) }
        var online = 0
        if options.rerank && !hits.isEmpty {
            let reranked = try rerank(query, ids: hits.map(\.id), batchSize: options.rerankBatch)
            for (i, r) in reranked.scores.enumerated() {
                hits[i].rerank = r?.score
                hits[i].rerankMode = r?.mode
            }
            online = reranked.online
            timings.stateLoad = reranked.stateLoadSeconds
            timings.rerank = reranked.rerankSeconds
            hits = hits.filter { $0.rerank != nil }
            hits.sort { a, b in
                let x = a.rerank!.logit, y = b.rerank!.logit
                return x != y ? x > y : a.embeddingScore > b.embeddingScore
            }
        }
        hits = Array(hits.prefix(options.topK))
        rw.read {
            for i in hits.indices {
                if let e = entries[hits[i].id] {
                    hits[i].text = text(e)
                    hits[i].metadata = e.metadata
                }
            }
        }
        timings.total = seconds(clock.now - start)
        return SearchResult(hits: hits, timings: timings, documentCount: documentCount,
                            candidatesReranked: options.rerank ? candidates.count : 0, onlineFallbacks: online)
    }

    /// Reranker scores of one query against stored documents, in the order of `ids`: offline from the cached
    /// states (decoded `batchSize` at a time), online (the whole template) for documents without a state;
    /// nil for ids not in the collection.
    public func rerank(_ query: String, ids: [String], batchSize: Int = 16) throws -> RerankResult {
        guard let models else { throw RetrievalError.modelsRequired("reranking runs the model") }
        let clock = ContinuousClock()
        let start = clock.now
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
        let ws = pool.take()
        defer { pool.give(ws) }
        var result = RerankResult(scores: Array(repeating: nil, count: ids.count), online: 0, stateLoadSeconds: 0, rerankSeconds: 0)
        let queryTokens = models.reranker.queryTokens(query)
        var offline: [Int] = [], fallback: [Int] = []
        rw.read {
            for (i, id) in ids.enumerated() {
                guard let e = entries[id] else { continue }
                if e.stateLength > 0 { offline.append(i) } else { fallback.append(i) }
            }
        }
        for chunkStart in stride(from: 0, to: offline.count, by: max(1, batchSize)) {
            let chunk = Array(offline[chunkStart..<min(offline.count, chunkStart + max(1, batchSize))])
            let l0 = clock.now
            let decoded: [RWKVState?] = rw.read {
                chunk.map { i in
                    guard let e = entries[ids[i]], e.stateLength > 0, let base = states.base else { return nil }
                    return codec.decode(base + e.stateOffset)
                }
            }
            result.stateLoadSeconds += seconds(clock.now - l0)
            var present: [(Int, RWKVState)] = []
            for (i, s) in zip(chunk, decoded) {
                if let s { present.append((i, s)) } else { fallback.append(i) }  // replaced or deleted meanwhile
            }
            let scores = try models.reranker.rerankOffline(queryTokens: queryTokens, documentStates: present.map(\.1), workspace: ws)
            for ((i, _), s) in zip(present, scores) { result.scores[i] = (s, .offline) }
        }
        if !fallback.isEmpty {
            let texts: [String?] = rw.read { fallback.map { i in entries[ids[i]].map(text) } }
            let pairs = zip(fallback, texts).compactMap { i, t in t.map { (i, $0) } }
            let scores = try models.reranker.rerankOnline(
                tokens: pairs.map { models.reranker.onlineTokens(query: query, document: $0.1) }, workspace: ws)
            for ((i, _), s) in zip(pairs, scores) { result.scores[i] = (s, .online) }
            result.online = pairs.count
        }
        result.rerankSeconds = seconds(clock.now - start) - result.stateLoadSeconds
        return result
    }

    /// The scan of the retrieval stage alone (top `k` rows by cosine) for a given query vector.
    public func nearest(to vector: [Float], k: Int) -> [(id: String, score: Float)] {
        rw.read {
            guard let base = embeddings.base, nextRow > 0 else { return [] }
            let matrix = UnsafePointer((base + Self.dataHeaderSize).assumingMemoryBound(to: Float.self))
            let scores = VectorSearch.scores(matrix: matrix, rows: nextRow, dimension: dimension, query: vector)
            return VectorSearch.topK(scores, k: k) { rowIDs[$0] != nil }.map { (rowIDs[$0.row]!, $0.score) }
        }
    }
}

@inline(__always)
private func posixOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 {
    open(path, flags, mode)
}

/// A pthread read-write lock.
final class ReadWriteLock: @unchecked Sendable {
    private let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)
    init() { pthread_rwlock_init(lock, nil) }
    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }
    func read<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
    func write<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}

/// Reusable engine workspaces (their buffers are large; one per concurrent operation).
final class WorkspacePool: @unchecked Sendable {
    private var free: [Workspace] = []
    private let lock = NSLock()
    func take() -> Workspace {
        lock.lock()
        defer { lock.unlock() }
        return free.popLast() ?? Workspace()
    }
    func give(_ w: Workspace) {
        lock.lock()
        defer { lock.unlock() }
        if free.count < 4 { free.append(w) }
    }
}
