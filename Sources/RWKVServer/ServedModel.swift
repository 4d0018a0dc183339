import EmbeddingRWKV
import Foundation
import RWKVCheckpoint
import RWKVRetrieval
import RWKVTokenizer

/// The models one server serves: the embedding model, its tokenizer and (optionally) the state reranker.
public struct ServedModel: Sendable {
    public let model: RWKVModel
    public let tokenizer: WorldTokenizer
    public let reranker: StateReranker?
    /// The same model and reranker as collections use them (with the weights' fingerprint); nil
    /// without a reranker (collections need one).
    public let retrieval: RetrievalModels?
    /// Storage dtypes of the embedding checkpoint (e.g. ["bfloat16"]); the engine computes in float32.
    public let checkpointDTypes: [String]

    public init(model: RWKVModel, tokenizer: WorldTokenizer = .shared, reranker: StateReranker? = nil,
                checkpointDTypes: [String] = []) {
        self.model = model
        self.tokenizer = tokenizer
        self.reranker = reranker
        self.checkpointDTypes = checkpointDTypes
        retrieval = nil
    }

    /// Serves the models of a collection set-up (embedding, reranker and collections share one model).
    public init(retrieval: RetrievalModels, checkpointDTypes: [String] = []) {
        model = retrieval.model
        tokenizer = retrieval.tokenizer
        reranker = retrieval.reranker
        self.retrieval = retrieval
        self.checkpointDTypes = checkpointDTypes
    }

    /// Loads an embedding checkpoint and, optionally, a reranker checkpoint paired with it (the pair
    /// through `RetrievalModels`, the one loader of a model and its reranker), in `precision`.
    public static func load(model modelURL: URL, reranker rerankerURL: URL? = nil,
                            tokenizer: WorldTokenizer = .shared, precision: WeightPrecision = .fp32) throws -> ServedModel {
        let loaded = try EmbeddingModelWeights.loadWithReport(contentsOf: modelURL)
        let dtypes = loaded.report.dtypes
        guard let rerankerURL else {
            return ServedModel(model: RWKVModel(loaded.weights, precision: precision), tokenizer: tokenizer, checkpointDTypes: dtypes)
        }
        let rerankerWeights = try RerankerWeights.load(contentsOf: rerankerURL, pairedWith: loaded.weights.architecture)
        let retrieval = try RetrievalModels(embedding: loaded.weights, reranker: rerankerWeights, tokenizer: tokenizer, precision: precision)
        return ServedModel(retrieval: retrieval, checkpointDTypes: dtypes)
    }

    /// The embedding width (the only `dimensions` an OpenAI request may ask for).
    public var dimensions: Int { model.width }
}
