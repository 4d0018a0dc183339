import Foundation
import EmbeddingRWKV
import RWKVCheckpoint
import RWKVTestSupport

/// The fixture models, loaded once per test process.
enum TestModels {
    struct Loaded: Sendable {
        let model: RWKVModel
        let reranker: RerankerNetwork
        let golden: Golden
    }

    static func load(_ name: String) throws -> Loaded {
        try cache.value(name) {
            let weights = try EmbeddingModelWeights.load(contentsOf: Fixtures.embeddingCheckpoint(name))
            let architecture = weights.architecture
            let model = RWKVModel(weights)
            let rerankerWeights = try RerankerWeights.load(contentsOf: Fixtures.rerankerCheckpoint(name), pairedWith: architecture)
            return Loaded(model: model, reranker: try RerankerNetwork(rerankerWeights), golden: try Fixtures.golden(name))
        }
    }

    private static let cache = Memo<Loaded>()
}

/// Records the largest difference seen per fixture section (printed by the summary test).
enum DiffLog {
    nonisolated(unsafe) static var values: [String: Double] = [:]
    static let lock = NSLock()
    static func note(_ section: String, _ diff: Double) {
        lock.lock(); defer { lock.unlock() }
        values[section] = max(values[section] ?? 0, diff)
    }
    /// Prints the largest differences of the sections starting with `prefix` (visible with `swift test`).
    static func report(_ prefix: String) {
        lock.lock(); defer { lock.unlock() }
        for (k, v) in values.sorted(by: { $0.key < $1.key }) where k.hasPrefix(prefix) {
            print("max abs diff \(k): \(v)")
        }
    }
}

let tolerance = 1e-4
