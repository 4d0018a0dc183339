import Foundation
import EmbeddingRWKV
import RWKVCheckpoint
import RWKVTokenizer

/// Identifies the weights a collection was built with: the checkpoint library's content fingerprints
/// (`EmbeddingModelWeights.fingerprint()`, `RerankerWeights.fingerprint()`: a fast hash over every weight
/// value as fp32, the architecture and the reranker's layer indices). The same for a `.pth` and a
/// `.safetensors` holding the same values, and what `rwkv-emb inspect` prints.
public struct ModelFingerprint: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Fingerprint of the embedding model.
    public var embedding: String
    /// Fingerprint of the reranker (including its layer indices).
    public var reranker: String
    /// e.g. "12 layers x 768".
    public var architecture: String
    public var rerankerLayerIndices: [Int]

    public var description: String {
        "embedding \(embedding) (\(architecture)), reranker \(reranker) (layers \(rerankerLayerIndices))"
    }

    public init(embedding w: EmbeddingModelWeights, reranker r: RerankerWeights) {
        embedding = w.fingerprint()
        reranker = r.fingerprint()
        architecture = "\(w.architecture.layerCount) layers x \(w.architecture.embeddingSize)"
        rerankerLayerIndices = r.layerIndices
    }
}

/// Everything a collection computes with: the embedding model, the state reranker, the tokenizer and the
/// fingerprint of their weights. Immutable and thread-safe.
public struct RetrievalModels: Sendable {
    public let model: RWKVModel
    public let reranker: StateReranker
    public let tokenizer: WorldTokenizer
    public let fingerprint: ModelFingerprint

    /// Builds the engine objects from loaded weights (the fingerprint is taken first), the block
    /// projections of both models in `precision` (the reranker follows the embedding model's resolved one).
    public init(embedding: EmbeddingModelWeights, reranker rerankerWeights: RerankerWeights,
                tokenizer: WorldTokenizer = .shared, precision: WeightPrecision = .fp32) throws {
        fingerprint = ModelFingerprint(embedding: embedding, reranker: rerankerWeights)
        let model = RWKVModel(embedding, precision: precision)
        let network = try RerankerNetwork(rerankerWeights, precision: model.precision)
        self.model = model
        self.tokenizer = tokenizer
        reranker = try StateReranker(model: model, network: network, tokenizer: tokenizer)
    }

    /// Loads an embedding checkpoint and its reranker (`.pth` or `.safetensors`), in `precision`.
    public static func load(embedding: URL, reranker: URL, tokenizer: WorldTokenizer = .shared,
                            precision: WeightPrecision = .fp32) throws -> RetrievalModels {
        let weights = try EmbeddingModelWeights.load(contentsOf: embedding)
        let rerankerWeights = try RerankerWeights.load(contentsOf: reranker, pairedWith: weights.architecture)
        return try RetrievalModels(embedding: weights, reranker: rerankerWeights, tokenizer: tokenizer, precision: precision)
    }

    /// Embedding-model layers a cached document state holds (0...max(reranker layer index)).
    public var stateLayers: Int { reranker.stateLayers }
}
