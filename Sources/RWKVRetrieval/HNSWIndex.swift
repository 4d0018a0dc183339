import CHNSW
import Foundation

/// An HNSW graph (hnswlib 0.6.2 through `CHNSW`) over L2-normalised vectors, scored by inner product
/// (cosine), labelled by passage ids. Searches may run concurrently; adds and deletions take it exclusively.
public final class HNSWIndex: @unchecked Sendable {  // the C object locks itself
    let handle: OpaquePointer
    public let dimension: Int

    private init(handle: OpaquePointer, dimension: Int) {
        self.handle = handle
        self.dimension = dimension
    }

    deinit { chnsw_free(handle) }

    static func message(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A new, empty index. `m`: links per node (memory and recall grow with it); `efConstruction`: the
    /// search width while inserting (build time and graph quality grow with it).
    public convenience init(dimension: Int, m: Int, efConstruction: Int, capacity: Int = 1024, seed: Int = 100) throws {
        var error = [CChar](repeating: 0, count: 256)
        guard let h = chnsw_create(dimension, capacity, m, efConstruction, seed, &error, error.count) else {
            throw RetrievalError.invalidInput("HNSW index: \(Self.message(error))")
        }
        self.init(handle: h, dimension: dimension)
    }

    /// Loads a file written by `save` (the caller checks its checksum first: hnswlib trusts its input).
    public static func load(path: String, dimension: Int) throws -> HNSWIndex {
        var error = [CChar](repeating: 0, count: 256)
        guard let h = chnsw_load(path, dimension, &error, error.count) else {
            throw RetrievalError.corrupt(path: path, reason: "HNSW index: \(Self.message(error))")
        }
        return HNSWIndex(handle: h, dimension: dimension)
    }

    public func save(path: String) throws {
        var error = [CChar](repeating: 0, count: 256)
        guard chnsw_save(handle, path, &error, error.count) == 0 else {
            throw RetrievalError.io(path: path, operation: "write HNSW index", message: Self.message(error))
        }
    }

    /// Adds `labels.count` vectors (row-major in `vectors`) on `threads` threads.
    public func add(_ vectors: UnsafePointer<Float>, labels: [Int64], threads: Int = 1) throws {
        guard !labels.isEmpty else { return }
        var error = [CChar](repeating: 0, count: 256)
        let ids = labels.map { UInt64(bitPattern: $0) }
        guard chnsw_add(handle, vectors, ids, ids.count, max(1, threads), &error, error.count) == 0 else {
            throw RetrievalError.invalidInput("HNSW index: \(Self.message(error))")
        }
    }

    /// Marks a label deleted; false when it is absent or already deleted.
    @discardableResult
    public func markDeleted(_ label: Int64) -> Bool { chnsw_mark_deleted(handle, UInt64(bitPattern: label)) == 0 }

    /// Elements stored, deleted ones included.
    public var count: Int { chnsw_count(handle) }
    public var deletedCount: Int { chnsw_deleted_count(handle) }
    public var m: Int { chnsw_m(handle) }
    public var efConstruction: Int { chnsw_ef_construction(handle) }
    public var memoryBytes: Int { chnsw_memory_bytes(handle) }
    /// The distance kernel picked at run time.
    public static var kernel: String { String(cString: chnsw_kernel()) }

    /// The labels not marked deleted.
    public func liveLabels() -> [Int64] {
        var out = [UInt64](repeating: 0, count: count + 16)
        let n = chnsw_live_labels(handle, &out, out.count)
        return out.prefix(min(n, out.count)).map { Int64(bitPattern: $0) }
    }

    /// The `k` nearest labels (best first) with their inner products; `ef` is the search width (>= k).
    public func search(_ query: [Float], k: Int, ef: Int) -> [(id: Int64, score: Float)] {
        precondition(query.count == dimension)
        guard k > 0 else { return [] }
        var labels = [UInt64](repeating: 0, count: k)
        var scores = [Float](repeating: 0, count: k)
        let n = chnsw_search(handle, query, k, max(ef, k), &labels, &scores)
        return (0..<n).map { (Int64(bitPattern: labels[$0]), scores[$0]) }
    }
}

extension HNSWIndex {
    /// The top `k` among the labels `accept` keeps, where `matching` of the index's `total` live labels
    /// are acceptable: the index searched for n neighbours, n starting at 1.5x the k matches expected
    /// for the selectivity and widened x4 until min(k, matching) are found; nil once n passes a fifth of
    /// the collection (the caller scans exactly then: never fewer results than matches).
    public func filteredSearch(_ query: [Float], k: Int, matching: Int, total: Int, efSearch: Int,
                               accept: ([(id: Int64, score: Float)]) -> [(id: Int64, score: Float)]) -> [(id: Int64, score: Float)]? {
        let wanted = min(k, matching)
        guard wanted > 0 else { return [] }
        var n = min(total, Int(Double(k) * Double(total) / Double(max(1, matching)) * 1.5) + k)
        while n <= max(k, total / 5) {
            let found = search(query, k: n, ef: max(efSearch, n))
            let kept = accept(found)
            if kept.count >= wanted { return Array(kept.prefix(k)) }
            if found.count < n { return nil }  // the index holds no more
            n *= 4
        }
        return nil
    }
}

/// hnswlib 0.6.2's footprint per vector (checked by `bench ann`): the base layer holds the vector
/// (4d), 2M links (8M) with a count (4) and the label (8); a node reaches the upper layers with
/// probability 1/M, each with M links and a count. In memory add the layer pointer and level (12), a
/// lock (40) and the label map entry (~32).
public enum HNSWSizes {
    static func upperLayers(m: Int) -> Int { (4 * m + 4 + m - 2) / max(1, m - 1) }
    public static func fileBytesPerVector(dimension: Int, m: Int) -> Int { 4 * dimension + 8 * m + 12 + 4 + upperLayers(m: m) }
    public static func memoryBytesPerVector(dimension: Int, m: Int) -> Int { 4 * dimension + 8 * m + 12 + upperLayers(m: m) + 12 + 40 + 32 }
}
