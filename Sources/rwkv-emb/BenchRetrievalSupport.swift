import ArgumentParser
import EmbeddingRWKV
import Foundation
import RWKVCheckpoint
import RWKVKernels
import RWKVRetrieval
import RWKVTokenizer
import RWKVSupport

/// `--layers` and `--width` of the random-weight model a benchmark runs (the released Tiny shape by default).
struct RandomModelShape: ParsableArguments {
    @Option(help: "Model layers (12 = Tiny shape; smaller for a quick run).")
    var layers: Int = 12

    @Option(help: "Model width (768 = Tiny shape).")
    var width: Int = 768

    /// Random weights of this shape and a random reranker at the quarter points (as `bench engine`).
    func models(precision: WeightPrecision = .fp32) throws -> RetrievalModels {
        try RetrievalBench.dummyModels(layers: layers, width: width, precision: precision)
    }

    var description: String { "random \(layers) x \(width)" }
}

/// `--dimension` of the synthetic embeddings that the collection benchmarks write straight into a collection
/// (no model computes them): the random vectors, and the one-layer random model of that width the
/// collection is created with.
struct SyntheticEmbeddingOptions: ParsableArguments {
    @Option(help: "Embedding dimension (768 = Tiny; a positive multiple of 64, the head size).")
    var dimension: Int = 768

    func validate() throws {
        guard dimension > 0, dimension % 64 == 0 else {
            throw ValidationError("--dimension \(dimension): must be a positive multiple of 64 (the head size)")
        }
    }

    /// Random weights one layer deep, `dimension` wide, with a one-block reranker (the collection's models; the
    /// embeddings themselves are given).
    func models() throws -> RetrievalModels {
        try RetrievalBench.dummyModels(layers: 1, width: dimension, rerankerLayers: [0])
    }

    /// `dimension` random values (not normalised).
    func randomVector(using rng: inout SeededGenerator) -> [Float] {
        (0..<dimension).map { _ in Float(Int64(rng.next() >> 40) - (1 << 23)) }
    }

    /// A random unit vector of `dimension` values.
    func randomUnitVector(using rng: inout SeededGenerator) -> [Float] {
        l2Normalized(randomVector(using: &rng))
    }
}

/// Shared pieces of the collection benchmarks.
enum RetrievalBench {
    /// Random weights of the released Tiny shape (12 x 768) and a random reranker reading layers
    /// `rerankerLayers` (default: 2, 5, 8, 11, as `bench engine`), or other shapes for quick runs.
    static func dummyModels(layers: Int = 12, width: Int = 768, rerankerLayers: [Int]? = nil,
                            precision: WeightPrecision = .fp32) throws -> RetrievalModels {
        let a = ModelArchitecture.standard(layerCount: layers, embeddingSize: width)
        return try RetrievalModels(embedding: .random(architecture: a, seed: 1),
                                   reranker: randomReranker(pairedWith: a, layers: rerankerLayers), precision: precision)
    }

    /// A random reranker for `architecture` reading `layers` (default: the quarter points, 2, 5, 8, 11 for 12 layers).
    static func randomReranker(pairedWith architecture: ModelArchitecture, layers: [Int]? = nil) -> RerankerWeights {
        let l = architecture.layerCount
        let indices = layers ?? Array(Set([l / 4 - 1, l / 2 - 1, 3 * l / 4 - 1, l - 1].map { max(0, $0) })).sorted()
        var ra = architecture
        ra.layerCount = indices.count
        return .random(architecture: ra, layerIndices: indices, seed: 2)
    }

    /// Texts of about `tokens` tokens each (cut from generated prose/CJK/code at token boundaries).
    static func texts(count: Int, tokens: Int, tokenizer: WorldTokenizer, seed: UInt64 = 0x5EED) throws -> [String] {
        let pool = tokenizer.encode(String(decoding: BenchmarkText.generate(bytes: max(4096, tokens * 8 * min(count, 8)), seed: seed), as: UTF8.self))
        guard pool.count > tokens else { throw CommandLineError("generated text too short") }
        return try (0..<count).map { i in
            let start = (i * 7919) % (pool.count - tokens)
            return try tokenizer.decode(pool[start..<start + tokens], invalidUTF8: .replace)
        }
    }

    static func time(_ body: () throws -> Void) rethrows -> Double {
        let start = ContinuousClock.now
        try body()
        return (ContinuousClock.now - start).seconds
    }

    /// A new empty directory for `body`, removed afterwards.
    static func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
        let url = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: url) }
        return try body(url)
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("rwkv-emb-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The machine and kernels a figure was measured with (and how loaded the machine was at the start).
    static func machineNote() {
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.map(String.init) ?? "?"
        print("machine: \(cpuModelName()), \(KernelThreads.coreCount) cores, load average \(load) at the start (other work on the machine shifts the figures)")
        print("kernels: \(MatrixKernels.current); dense scan: OpenBLAS sgemv per worker; CRC-32C: \(CRC32C.implementation)")
    }

    static func debugNote() {
        #if DEBUG
        print("note: this is a debug build; use `swift build -c release` for representative figures")
        #endif
    }
}
