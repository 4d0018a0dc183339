import EmbeddingRWKV
import Foundation
import RWKVCheckpoint
import RWKVTokenizer

/// The models one server serves: the embedding model, its tokenizer and (optionally) the state reranker.
public struct ServedModel: Sendable {
    public let model: RWKVModel
    public let tokenizer: WorldTokenizer
    public let reranker: StateReranker?
    /// Storage dtypes of the embedding checkpoint (e.g. ["bfloat16"]); the engine computes in float32.
    public let checkpointDTypes: [String]

    public init(model: RWKVModel, tokenizer: WorldTokenizer = .shared, reranker: StateReranker? = nil,
                checkpointDTypes: [String] = []) {
        self.model = model
        self.tokenizer = tokenizer
        self.reranker = reranker
        self.checkpointDTypes = checkpointDTypes
    }

    /// Loads an embedding checkpoint and, optionally, a reranker checkpoint paired with it.
    public static func load(model modelURL: URL, reranker rerankerURL: URL? = nil,
                            tokenizer: WorldTokenizer = .shared) throws -> ServedModel {
        let loaded = try EmbeddingModelWeights.loadWithReport(contentsOf: modelURL)
        let architecture = loaded.weights.architecture
        let dtypes = loaded.report.dtypes
        let model = RWKVModel(loaded.weights)
        var reranker: StateReranker?
        if let rerankerURL {
            let weights = try RerankerWeights.load(contentsOf: rerankerURL, pairedWith: architecture)
            reranker = try StateReranker(model: model, network: try RerankerNetwork(weights), tokenizer: tokenizer)
        }
        return ServedModel(model: model, tokenizer: tokenizer, reranker: reranker, checkpointDTypes: dtypes)
    }

    /// The embedding width (the only `dimensions` an OpenAI request may ask for).
    public var dimensions: Int { model.width }
}
