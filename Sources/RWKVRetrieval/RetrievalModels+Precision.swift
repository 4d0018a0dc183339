import EmbeddingRWKV
import Foundation
import RWKVCheckpoint
import RWKVTokenizer

// The weight precision of the models' matrix products (kept apart from RetrievalModels.swift, which
// builds fp32 models, so the two change independently).
extension RetrievalModels {
    /// As `init(embedding:reranker:tokenizer:)`, with the block projections of both models in `precision`
    /// (the reranker follows the embedding model's resolved precision).
    public init(embedding: EmbeddingModelWeights, reranker rerankerWeights: RerankerWeights,
                tokenizer: WorldTokenizer = .shared, precision: WeightPrecision) throws {
        fingerprint = ModelFingerprint(embedding: embedding, reranker: rerankerWeights)
        let model = RWKVModel(embedding, precision: precision)
        let network = try RerankerNetwork(rerankerWeights, precision: model.precision)
        self.model = model
        self.tokenizer = tokenizer
        reranker = try StateReranker(model: model, network: network, tokenizer: tokenizer)
    }

    /// As `load(embedding:reranker:tokenizer:)`, in `precision`.
    public static func load(embedding: URL, reranker: URL, tokenizer: WorldTokenizer = .shared,
                            precision: WeightPrecision) throws -> RetrievalModels {
        let weights = try EmbeddingModelWeights.load(contentsOf: embedding)
        let rerankerWeights = try RerankerWeights.load(contentsOf: reranker, pairedWith: weights.architecture)
        return try RetrievalModels(embedding: weights, reranker: rerankerWeights, tokenizer: tokenizer, precision: precision)
    }
}
