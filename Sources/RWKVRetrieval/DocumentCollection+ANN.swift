import Foundation
import GRDB
import RWKVKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A collection's HNSW index in this process (guarded by its own lock): the graph, the labels it holds
/// live, and the persisted record it was loaded from or last saved as.
final class ANNState: @unchecked Sendable {  // all fields behind `lock`
    let lock = NSLock()
    var settings: ANNSettings?
    var index: HNSWIndex?
    var live = Set<Int64>()
    var highest: Int64 = 0
    var record: ANNIndexRecord?
    /// Labels added or deleted since the file was written.
    var unsaved = 0
    var origin: String?
    /// A rebuild after compaction runs on its own thread; `rebuildDone` is entered while it does.
    var rebuilding = false
    let rebuildDone = DispatchGroup()
}

extension DocumentCollection {
    static let annSettingsKey = "ann"
    static let annRecordKey = "annIndex"
    static let annFilePrefix = "ann-"
    static let annFileSuffix = ".hnsw"

    // MARK: settings

    /// The collection's ANN settings (manifest key `ann`; the defaults when absent).
    public var annSettings: ANNSettings {
        ann.lock.lock()
        defer { ann.lock.unlock() }
        return loadedANNSettings()
    }

    /// Caller holds `ann.lock`.
    private func loadedANNSettings() -> ANNSettings {
        if let s = ann.settings { return s }
        let s: ANNSettings = (try? readManifestValue(Self.annSettingsKey)) ?? ANNSettings()
        ann.settings = s
        return s
    }

    func readManifestValue<T: Decodable>(_ key: String) throws -> T? {
        guard let text = try db.read({ db in try String.fetchOne(db, sql: "SELECT value FROM manifest WHERE key = ?", arguments: [key]) }) else { return nil }
        return try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    static func manifestJSON<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Changes the ANN settings (one manifest row). Different graph parameters make the next search
    /// rebuild the index; `none` drops it.
    public func setANNSettings(_ settings: ANNSettings) throws {
        try requireWritable()
        try settings.validate()
        writer.lock()
        defer { writer.unlock() }
        try setANNSettingsLocked(settings)
        // Codes of another kind (or none wanted) are dropped; outside `ann.lock` (never ann, then codes).
        if settings.kind.codesKind == nil { dropCodes() }
    }

    private func setANNSettingsLocked(_ settings: ANNSettings) throws {
        ann.lock.lock()
        defer { ann.lock.unlock() }
        guard loadedANNSettings() != settings else { return }
        let json = try Self.manifestJSON(settings)
        do {
            try db.write { db in
                try db.execute(sql: "INSERT OR REPLACE INTO manifest (key, value) VALUES (?, ?)", arguments: [Self.annSettingsKey, json])
            }
        } catch { throw RetrievalError.database(path: Self.databaseURL(url).path, message: "\(error)") }
        ann.settings = settings
        if let index = ann.index, settings.kind == .none || settings.kind.codesKind != nil || index.m != settings.m || index.efConstruction != settings.efConstruction {
            ann.index = nil
            ann.live = []
            ann.highest = 0
        }
    }

    // MARK: keeping the index current

    /// The index to search with, loaded or built and brought up to the passage table, or nil when the
    /// settings (or the collection's size, for `auto`) say the exact scan.
    func currentANN() throws -> HNSWIndex? {
        ann.lock.lock()
        defer { ann.lock.unlock() }
        let settings = loadedANNSettings()
        let passages = rw.read { table.count }
        let wanted = settings.kind == .hnsw || (settings.kind == .auto && passages >= settings.threshold)
        guard wanted else { return nil }
        if ann.index == nil { try loadOrStartANN(settings) }
        try catchUpANN()
        // A writer saves the index when 5% of its labels changed since the file (or there is none); the
        // rest is caught up at the next open (one save of a 1M-passage index writes ~3.2 GB).
        if let index = ann.index, isWritable, !isLegacy, ann.unsaved > 0,
           ann.record == nil || ann.origin?.hasPrefix("built") == true || ann.unsaved * 20 >= max(1, ann.live.count) {
            try saveANN(index)
            ann.origin = ann.origin.map { $0.hasPrefix("built") ? $0 + ", saved" : $0 }
        }
        return ann.index
    }

    /// Caller holds `ann.lock`. The persisted index when its record, size and CRC-32C check out and its
    /// parameters are the settings'; otherwise an empty one (filled by the catch-up), never a file not trusted.
    private func loadOrStartANN(_ settings: ANNSettings) throws {
        let record: ANNIndexRecord? = try? readManifestValue(Self.annRecordKey)
        var reason = "no index file"
        if let record {
            let path = segmentsURL.appendingPathComponent(record.file).path
            if record.dimension != dimension || record.m != settings.m || record.efConstruction != settings.efConstruction {
                reason = "parameters changed"
            } else if let problem = Self.checkFile(path: path, bytes: record.bytes, crc: record.crc32c) {
                reason = problem
            } else if let index = try? HNSWIndex.load(path: path, dimension: dimension) {
                ann.index = index
                ann.live = Set(index.liveLabels())
                ann.highest = record.highestPassageID
                ann.record = record
                ann.unsaved = 0
                ann.origin = "file"
                return
            } else {
                reason = "unreadable index file"
            }
        }
        ann.index = try HNSWIndex(dimension: dimension, m: settings.m, efConstruction: settings.efConstruction,
                                  capacity: max(1024, rw.read { table.count }))
        ann.live = []
        ann.highest = 0
        ann.record = record
        ann.unsaved = 0
        ann.origin = "built (\(reason))"
    }

    /// nil when the file has the recorded length and CRC-32C; otherwise what is wrong.
    static func checkFile(path: String, bytes: Int, crc: UInt32) -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return "index file missing" }
        guard let (length, actual) = fileCRC(path: path) else { return "index file unreadable" }
        guard length == bytes, length > 0 else { return "index file has the wrong length" }
        return actual == crc ? nil : "index file fails its checksum"
    }

    /// The length and CRC-32C of a whole file (through a read-only mapping).
    static func fileCRC(path: String) -> (bytes: Int, crc: UInt32)? {
        let fd = posixOpen(path, O_RDONLY | O_CLOEXEC, 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        let bytes = Int(st.st_size)
        guard bytes > 0 else { return (0, 0) }
        guard let base = mmap(nil, bytes, PROT_READ, MAP_SHARED, fd, 0), base != MAP_FAILED else { return nil }
        defer { munmap(base, bytes) }
        return (bytes, CRC32C.checksum(UnsafeRawBufferPointer(start: base, count: bytes)))
    }

    /// Caller holds `ann.lock`. Adds the live passages the index lacks (in chunks of rows copied from
    /// the mapped segments) and marks deleted the labels no live passage has.
    private func catchUpANN() throws {
        guard let index = ann.index else { return }
        let (missing, gone): ([Int64], [Int64]) = rw.read {
            var missing: [Int64] = []
            if table.maxID > ann.highest || table.count != ann.live.count {
                for id in table.byID.keys where !ann.live.contains(id) { missing.append(id) }
            }
            var gone: [Int64] = []
            if ann.live.count + missing.count != table.count {
                for id in ann.live where table.byID[id] == nil { gone.append(id) }
            }
            return (missing.sorted(), gone)
        }
        try liveRowChunks(missing) { labels, matrix in
            try matrix.withUnsafeBufferPointer { try index.add($0.baseAddress!, labels: labels, threads: KernelThreads.coreCount) }
            ann.live.formUnion(labels)
            ann.highest = max(ann.highest, labels.max() ?? 0)
            ann.unsaved += labels.count
        }
        for id in gone {
            index.markDeleted(id)
            ann.live.remove(id)
        }
        ann.unsaved += gone.count
    }

    // MARK: persisting

    /// After a write (the caller holds `writer`): the index brought up to date, and saved when due.
    func annAfterWrite() throws {
        guard isWritable, !isLegacy else { return }
        _ = try currentANN()
        codesAfterWrite()
    }

    /// Writes the index aside (`ann-GEN.hnsw.tmp`), fsyncs it, renames it into place, then records it
    /// in the manifest in one transaction; the previous file is unlinked after the commit. A crash at
    /// any point leaves the old record naming a complete file (or none), never a torn one.
    private func saveANN(_ index: HNSWIndex) throws {
        let generation = (ann.record?.generation ?? 0) + 1
        let name = Self.annFilePrefix + String(format: "%06d", generation) + Self.annFileSuffix
        let path = segmentsURL.appendingPathComponent(name).path
        let tmp = path + ".tmp"
        try index.save(path: tmp)
        let fd = posixOpen(tmp, O_RDWR | O_CLOEXEC, 0)
        guard fd >= 0 else { throw RetrievalError.errno(tmp, "open") }
        let synced = fsync(fd) == 0
        close(fd)
        guard synced else { throw RetrievalError.errno(tmp, "fsync") }
        guard let (bytes, crc) = Self.fileCRC(path: tmp) else { throw RetrievalError.errno(tmp, "read") }
        guard rename(tmp, path) == 0 else { throw RetrievalError.errno(tmp, "rename") }
        syncDirectory(segmentsURL.path)
        let record = ANNIndexRecord(file: name, generation: generation, dimension: dimension, m: index.m,
                                    efConstruction: index.efConstruction, highestPassageID: ann.highest,
                                    elements: index.count, bytes: bytes, crc32c: crc)
        let json = try Self.manifestJSON(record)
        do {
            try db.write { db in
                try db.execute(sql: "INSERT OR REPLACE INTO manifest (key, value) VALUES (?, ?)", arguments: [Self.annRecordKey, json])
            }
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw RetrievalError.database(path: Self.databaseURL(url).path, message: "\(error)")
        }
        if let old = ann.record?.file, old != name { try? FileManager.default.removeItem(at: segmentsURL.appendingPathComponent(old)) }
        ann.record = record
        ann.unsaved = 0
    }

    /// The share of a graph's elements that are deleted labels from which compaction rebuilds it.
    /// hnswlib 0.6.2 keeps a deleted label's node and links (memory, and search work spent walking
    /// through them) and cannot reuse its slot; below this share rebuilding costs more than it saves
    /// (measured: 24 s for 50k 768-d vectors on 2 cores). Qdrant's vacuum starts at the same 20%.
    static let annRebuildDeletedShare = 0.2

    /// Compaction's part (the caller holds `writer`): when the graph's deleted labels reach
    /// `annRebuildDeletedShare`, a fresh graph of the live passages is built on a background thread,
    /// swapped in and saved. Until then searches keep using the old graph (its deleted labels are
    /// masked), so neither a search nor the compaction waits for the build. Returns whether one started.
    @discardableResult
    func startANNRebuildIfWasteful() -> Bool {
        ann.lock.lock()
        guard !ann.rebuilding, let old = ann.index, old.deletedCount > 0,
              Double(old.deletedCount) >= Self.annRebuildDeletedShare * Double(old.count) else {
            ann.lock.unlock()
            return false
        }
        ann.rebuilding = true
        ann.rebuildDone.enter()
        let (m, efConstruction) = (old.m, old.efConstruction)
        ann.lock.unlock()
        Thread { [self] in finishANNRebuild(m: m, efConstruction: efConstruction) }.start()
        return true
    }

    /// Waits for the background rebuild `compact` may have started (returns at once when none runs).
    public func waitForIndexRebuild() {
        ann.rebuildDone.wait()
    }

    /// A graph of the live passages (their rows by `liveRowChunks`: writers and searches go on meanwhile).
    private func buildANNOfLivePassages(m: Int, efConstruction: Int) throws -> (index: HNSWIndex, live: Set<Int64>) {
        let ids = rw.read { table.byID.keys.sorted() }
        let index = try HNSWIndex(dimension: dimension, m: m, efConstruction: efConstruction, capacity: max(1024, ids.count))
        var live = Set<Int64>(minimumCapacity: ids.count)
        try liveRowChunks(ids) { labels, matrix in
            try matrix.withUnsafeBufferPointer { try index.add($0.baseAddress!, labels: labels, threads: KernelThreads.coreCount) }
            live.formUnion(labels)
        }
        return (index, live)
    }

    /// The background rebuild: build, then under `ann.lock` swap it in, catch it up with what was
    /// written meanwhile, and save it. A failure keeps the old graph (still correct) and says so in `origin`.
    private func finishANNRebuild(m: Int, efConstruction: Int) {
        let built = Result { try buildANNOfLivePassages(m: m, efConstruction: efConstruction) }
        ann.lock.lock()
        defer {
            ann.rebuilding = false
            ann.lock.unlock()
            ann.rebuildDone.leave()
        }
        switch built {
        case let .success((index, live)):
            // Settings changed meanwhile (other parameters, or `none`): the new graph is not wanted.
            guard let current = ann.index, current.m == m, current.efConstruction == efConstruction else { return }
            ann.index = index
            ann.live = live
            ann.highest = live.max() ?? 0
            ann.unsaved = live.count
            ann.origin = "built (compaction)"
            do {
                try catchUpANN()
                if isWritable, !isLegacy {
                    try saveANN(index)
                    ann.origin = "built (compaction), saved"
                }
            } catch {
                ann.origin = "built (compaction), not saved: \(error)"
            }
        case let .failure(error):
            ann.origin = (ann.origin ?? "") + "; rebuild after compaction failed: \(error)"
        }
    }

    /// Index files no record names (a save interrupted before its commit), removed at a writable open.
    func removeOrphanANNFiles() {
        let named: String? = (try? readManifestValue(Self.annRecordKey) as ANNIndexRecord?)??.file
        let files = (try? FileManager.default.contentsOfDirectory(atPath: segmentsURL.path)) ?? []
        for f in files where f.hasPrefix(Self.annFilePrefix) && f != named {
            try? FileManager.default.removeItem(at: segmentsURL.appendingPathComponent(f))
        }
    }

    /// The index's part of `stats`.
    public func annStats() -> ANNStats {
        let settings = annSettings
        if let kind = settings.kind.codesKind {
            let c = codesStats()
            return ANNStats(settings: settings, kind: kind.rawValue, elements: c?.elements ?? 0, deleted: c?.dead ?? 0,
                            memoryBytes: c?.memoryBytes ?? 0, fileBytes: 0, file: nil,
                            origin: c?.origin ?? "not encoded yet (at the first search; codes are not persisted)")
        }
        ann.lock.lock()
        defer { ann.lock.unlock() }
        let record: ANNIndexRecord? = ann.record ?? (try? readManifestValue(Self.annRecordKey))
        return ANNStats(settings: settings, kind: ann.index != nil || record != nil ? "hnsw" : "none",
                        elements: ann.index?.count ?? record?.elements ?? 0,
                        deleted: ann.index?.deletedCount ?? 0, memoryBytes: ann.index?.memoryBytes ?? 0,
                        fileBytes: record?.bytes ?? 0, file: record.map { CollectionSchema.segmentsFolder + "/" + $0.file },
                        origin: ann.origin, rebuilding: ann.rebuilding)
    }

    // MARK: query planning

    /// The top `k` passages by cosine among `allowed` (all when nil), and the path that found them:
    /// the exact scan below the size threshold, on request (`exact`) and for filters matching few
    /// passages; otherwise the HNSW index, widened (x4 each round) for a filter until k matches are
    /// found, with the exact scan as the fallback once the widening passes a fifth of the collection;
    /// for the kinds `int8` / `binary`, the scan of the in-memory codes (masked by the filter), the best
    /// k x oversample rescored with the fp32 rows. Never fewer than min(k, matching) results.
    func denseSearch(query: [Float], k: Int, allowed: PassageMask?, exact: Bool) throws -> (hits: [(id: Int64, score: Float)], path: DensePath) {
        let exactPath: DensePath = allowed == nil ? .exact : .exactFiltered
        if exact { return (denseCandidates(query: query, k: k, allowed: allowed), exactPath) }
        let settings = annSettings
        if let kind = settings.kind.codesKind {
            if let allowed, allowed.count <= settings.filterExactLimit { return (denseCandidates(query: query, k: k, allowed: allowed), .exactFiltered) }
            let hits = try codesSearch(kind, query: query, k: k, allowed: allowed, oversample: settings.effectiveOversample(kind))
            return (hits, kind == .int8 ? .int8Rescored : .binaryRescored)
        }
        guard let index = try currentANN() else { return (denseCandidates(query: query, k: k, allowed: allowed), exactPath) }
        let total = rw.read { table.count }
        let matching = allowed?.count ?? total
        let wanted = min(k, matching)
        if let allowed {
            if matching <= settings.filterExactLimit { return (denseCandidates(query: query, k: k, allowed: allowed), .exactFiltered) }
            let kept = index.filteredSearch(query, k: k, matching: matching, total: total, efSearch: settings.efSearch) { found in
                rw.read { found.filter { allowed.contains($0.id) && table.byID[$0.id] != nil } }
            }
            if let kept { return (kept, .hnswFiltered) }
            return (denseCandidates(query: query, k: k, allowed: allowed), .exactFallback)
        }
        let found = index.search(query, k: k, ef: max(settings.efSearch, k))
        let kept: [(id: Int64, score: Float)] = rw.read { found.filter { table.byID[$0.id] != nil } }
        if kept.count >= wanted { return (Array(kept.prefix(k)), .hnsw) }
        return (denseCandidates(query: query, k: k, allowed: nil), .exactFallback)
    }
}
