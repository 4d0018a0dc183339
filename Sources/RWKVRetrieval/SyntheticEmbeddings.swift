import Foundation
import RWKVCheckpoint
import RWKVSupport

/// Clustered synthetic embeddings for the ANN tests and `bench ann` (uniform random vectors are the
/// hardest case and unlike real embeddings): a Gaussian mixture of `clusters` centroids drawn uniformly
/// on the unit sphere; each vector is its centroid plus isotropic Gaussian noise of standard deviation
/// `spread / sqrt(dimension)` per coordinate (so the noise has norm ~spread), then L2-normalised.
/// Seeded (SplitMix64), so every run draws the same vectors.
public struct SyntheticEmbeddings: Sendable {
    public let dimension: Int
    public let clusters: Int
    public let spread: Float
    public let seed: UInt64
    let centroids: [Float]

    public init(dimension: Int, clusters: Int, spread: Float = 0.8, seed: UInt64 = 1) {
        self.dimension = dimension
        self.clusters = max(1, clusters)
        self.spread = spread
        self.seed = seed
        var rng = SeededGenerator(seed: seed)
        var c = [Float](repeating: 0, count: self.clusters * dimension)
        let clusterCount = self.clusters
        c.withUnsafeMutableBufferPointer { c in
            for i in 0..<clusterCount {
                let row = c.baseAddress! + i * dimension
                for j in 0..<dimension { row[j] = Self.gaussian(&rng) }
                l2NormalizeInPlace(row, count: dimension, minimumNorm: 1e-12)
            }
        }
        centroids = c
    }

    /// Vectors `first..<first+count` (row-major), the same for the same index whatever the batching.
    public func vectors(_ first: Int, count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count * dimension)
        out.withUnsafeMutableBufferPointer { fill($0.baseAddress!, first: first, count: count) }
        return out
    }

    /// Writes vectors `first..<first+count` to `out` (row-major; callers may fill disjoint ranges in parallel).
    public func fill(_ out: UnsafeMutablePointer<Float>, first: Int, count: Int) {
        let sigma = spread / Float(dimension).squareRoot()
        for r in 0..<count {
            var rng = SeededGenerator(seed: seed &* 0x9E37_79B9 &+ UInt64(first + r) &* 0xD1B5_4A32_D192_ED03)
            let cluster = Int(rng.next() % UInt64(clusters))
            let row = out + r * dimension
            for j in 0..<dimension { row[j] = centroids[cluster * dimension + j] + sigma * Self.gaussian(&rng) }
            l2NormalizeInPlace(row, count: dimension, minimumNorm: 1e-12)
        }
    }

    /// Query vectors: drawn like the data but from a different stream (not copies of stored rows).
    public func queries(_ count: Int) -> [[Float]] {
        let other = SyntheticEmbeddings(copying: self, seed: seed ^ 0x5155_4552_5953)
        let flat = other.vectors(0, count: count)
        return (0..<count).map { Array(flat[($0 * dimension)..<(($0 + 1) * dimension)]) }
    }

    private init(copying base: SyntheticEmbeddings, seed: UInt64) {
        dimension = base.dimension
        clusters = base.clusters
        spread = base.spread
        self.seed = seed
        centroids = base.centroids
    }

    /// Box-Muller over the checkpoint library's SplitMix64 generator.
    static func gaussian(_ rng: inout SeededGenerator) -> Float {
        let u1 = max(Double(rng.next() >> 11) / Double(1 << 53), 1e-300)
        let u2 = Double(rng.next() >> 11) / Double(1 << 53)
        return Float((-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
    }
}
