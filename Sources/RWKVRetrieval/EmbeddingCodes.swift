import CHNSW
import RWKVKernels

/// Compressed copies of embedding rows held in memory for a first pass, rescored with the fp32 rows:
/// int8 (each row scaled by its own max |value| / 127: 1 byte per value + 4 per row) or 1-bit (the
/// signs: dimension / 8 bytes per row, scored by Hamming distance, i.e. the sign agreement).
public struct EmbeddingCodes: Sendable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case int8, binary
    }

    public let kind: Kind
    public let dimension: Int
    public private(set) var count = 0
    var int8Codes: [Int8] = []
    var scales: [Float] = []
    var bits: [UInt64] = []
    var words: Int { (dimension + 63) / 64 }

    public init(kind: Kind, dimension: Int) {
        self.kind = kind
        self.dimension = dimension
    }

    /// Bytes per vector in memory.
    public var bytesPerVector: Int { kind == .int8 ? dimension + 4 : words * 8 }
    public var bytes: Int { count * bytesPerVector }
    /// The kernels picked at run time.
    public static var kernels: String { String(cString: ann_codes_kernels()) }

    /// Appends `rows` rows (row-major fp32).
    public mutating func append(_ matrix: UnsafePointer<Float>, rows: Int) {
        switch kind {
        case .int8:
            int8Codes.reserveCapacity(int8Codes.count + rows * dimension)
            for r in 0..<rows {
                let row = matrix + r * dimension
                let (codes, scale) = Self.quantize(UnsafeBufferPointer(start: row, count: dimension))
                int8Codes += codes
                scales.append(scale)
            }
        case .binary:
            bits.reserveCapacity(bits.count + rows * words)
            for r in 0..<rows { bits += Self.signBits(UnsafeBufferPointer(start: matrix + r * dimension, count: dimension), words: words) }
        }
        count += rows
    }

    static func quantize(_ v: UnsafeBufferPointer<Float>) -> ([Int8], Float) {
        let m = v.reduce(Float(0)) { max($0, abs($1)) }
        guard m > 0 else { return ([Int8](repeating: 0, count: v.count), 0) }
        let inv = 127 / m
        return (v.map { Int8(max(-127, min(127, ($0 * inv).rounded()))) }, m / 127)
    }

    static func signBits(_ v: UnsafeBufferPointer<Float>, words: Int) -> [UInt64] {
        var out = [UInt64](repeating: 0, count: words)
        for (j, x) in v.enumerated() where x > 0 { out[j >> 6] |= 1 << UInt64(j & 63) }
        return out
    }

    /// Approximate scores of every row for `query` (higher is better): int8, the dot product of the
    /// quantised query and rows times both scales; binary, dimension - 2 * Hamming distance.
    public func scores(query: [Float]) -> [Float] {
        guard count > 0 else { return [] }
        let parts = max(1, min(count >= 16_384 ? KernelThreads.coreCount : 1, count))
        var out = [Float](repeating: 0, count: count)
        switch kind {
        case .int8:
            let (q, qs) = query.withUnsafeBufferPointer { Self.quantize($0) }
            var sums = [Int32](repeating: 0, count: count)
            int8Codes.withUnsafeBufferPointer { c in
                sums.withUnsafeMutableBufferPointer { s in
                    let cp = c.baseAddress!, sp = s.baseAddress!
                    Self.overRows(count, parts: parts) { r in ann_int8_dots(cp + r.lowerBound * dimension, r.count, dimension, q, sp + r.lowerBound) }
                }
            }
            for r in 0..<count { out[r] = Float(sums[r]) * scales[r] * qs }
        case .binary:
            let q = query.withUnsafeBufferPointer { Self.signBits($0, words: words) }
            var dist = [UInt32](repeating: 0, count: count)
            bits.withUnsafeBufferPointer { b in
                dist.withUnsafeMutableBufferPointer { d in
                    let bp = b.baseAddress!, dp = d.baseAddress!
                    Self.overRows(count, parts: parts) { r in ann_hamming(bp + r.lowerBound * words, r.count, words, q, dp + r.lowerBound) }
                }
            }
            let d = Float(dimension)
            for r in 0..<count { out[r] = d - 2 * Float(dist[r]) }
        }
        return out
    }

    /// `body` over contiguous row ranges, one per worker.
    static func overRows(_ count: Int, parts: Int, _ body: (Range<Int>) -> Void) {
        KernelThreads.parallel(parts) { w in
            let r = KernelThreads.range(w, of: parts, total: count)
            if !r.isEmpty { body(r) }
        }
    }

    /// The top `k` rows for `query`: the best `k * oversample` by the codes (among `include`), rescored
    /// exactly with the fp32 rows (`row(r)` points at row r), best first.
    public func search(query: [Float], k: Int, oversample: Int, row: (Int) -> UnsafePointer<Float>,
                       include: (Int) -> Bool = { _ in true }) -> [(row: Int, score: Float)] {
        let first = VectorSearch.topK(scores(query: query), k: k * max(1, oversample), include: include)
        var rescored = first.map { c in (row: c.row, score: DocumentCollection.dot(row(c.row), query)) }
        rescored.sort { $0.score != $1.score ? $0.score > $1.score : $0.row < $1.row }
        return Array(rescored.prefix(k))
    }
}
