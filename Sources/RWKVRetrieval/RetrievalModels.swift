import Foundation
import EmbeddingRWKV
import RWKVCheckpoint
import RWKVTokenizer

/// Identifies the weights a collection was built with: SHA-256 over the architecture and an evenly spaced
/// sample (up to 4096 values) of every large tensor, as fp32 bit patterns. Cheap (no full pass over the
/// weights) and the same for a `.pth` and a `.safetensors` file holding the same values.
public struct ModelFingerprint: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Hex SHA-256 of the embedding model sample.
    public var embedding: String
    /// Hex SHA-256 of the reranker sample (including its layer indices).
    public var reranker: String
    /// e.g. "12 layers x 768".
    public var architecture: String
    public var rerankerLayerIndices: [Int]

    public var description: String {
        "embedding \(embedding.prefix(16)) (\(architecture)), reranker \(reranker.prefix(16)) (layers \(rerankerLayerIndices))"
    }

    public static let version = "rwkv-emb-fingerprint-v1"

    static func sample(_ hasher: inout SHA256Hasher, _ name: String, _ values: [Float]) {
        hasher.update(name)
        hasher.update(integer: UInt64(values.count))
        let step = max(1, values.count / 4096)
        var i = 0
        values.withUnsafeBufferPointer { v in
            while i < v.count {
                hasher.update(integer: v[i].bitPattern)
                i += step
            }
        }
    }

    static func blocks(_ hasher: inout SHA256Hasher, _ blocks: [BlockWeights]) {
        for (i, b) in blocks.enumerated() {
            let t = b.timeMix
            sample(&hasher, "b\(i).ln1", b.ln1.weight)
            sample(&hasher, "b\(i).w0", t.w0)
            sample(&hasher, "b\(i).w1", t.w1.values)
            sample(&hasher, "b\(i).r", t.receptance.values)
            sample(&hasher, "b\(i).k", t.key.values)
            sample(&hasher, "b\(i).v", t.value.values)
            sample(&hasher, "b\(i).o", t.output.values)
            sample(&hasher, "b\(i).ffk", b.channelMix.key.values)
            sample(&hasher, "b\(i).ffv", b.channelMix.value.values)
        }
    }

    static func architecture(_ hasher: inout SHA256Hasher, _ a: ModelArchitecture) {
        for v in [a.layerCount, a.embeddingSize, a.headCount, a.headSize, a.vocabularySize, a.decayRank,
                  a.inContextRateRank, a.valueResidualRank, a.gateRank, a.feedForwardSize] {
            hasher.update(integer: Int64(v))
        }
    }

    public init(embedding w: EmbeddingModelWeights, reranker r: RerankerWeights) {
        var h = SHA256Hasher()
        h.update(Self.version + "/embedding")
        Self.architecture(&h, w.architecture)
        Self.sample(&h, "emb", w.embedding.values)
        Self.blocks(&h, w.blocks)
        Self.sample(&h, "ln_out", w.lnOut.weight)
        Self.sample(&h, "retr.fc1", w.retrievalHead.fc1.values)
        Self.sample(&h, "retr.fc2", w.retrievalHead.fc2.values)
        embedding = SHA256Hasher.hex(h.finalize())

        var g = SHA256Hasher()
        g.update(Self.version + "/reranker")
        Self.architecture(&g, r.architecture)
        for i in r.layerIndices { g.update(integer: Int64(i)) }
        Self.sample(&g, "token", r.token)
        Self.blocks(&g, r.blocks)
        Self.sample(&g, "hidden", r.hiddenWeight.values)
        Self.sample(&g, "score", r.scoreWeight.values)
        reranker = SHA256Hasher.hex(g.finalize())
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

    /// Builds the engine objects from loaded weights (the fingerprint is taken first).
    public init(embedding: EmbeddingModelWeights, reranker rerankerWeights: RerankerWeights,
                tokenizer: WorldTokenizer = .shared) throws {
        fingerprint = ModelFingerprint(embedding: embedding, reranker: rerankerWeights)
        let model = RWKVModel(embedding)
        let network = try RerankerNetwork(rerankerWeights)
        self.model = model
        self.tokenizer = tokenizer
        reranker = try StateReranker(model: model, network: network, tokenizer: tokenizer)
    }

    /// Loads an embedding checkpoint and its reranker (`.pth` or `.safetensors`).
    public static func load(embedding: URL, reranker: URL, tokenizer: WorldTokenizer = .shared) throws -> RetrievalModels {
        let weights = try EmbeddingModelWeights.load(contentsOf: embedding)
        let rerankerWeights = try RerankerWeights.load(contentsOf: reranker, pairedWith: weights.architecture)
        return try RetrievalModels(embedding: weights, reranker: rerankerWeights, tokenizer: tokenizer)
    }

    /// Embedding-model layers a cached document state holds (0...max(reranker layer index)).
    public var stateLayers: Int { reranker.stateLayers }
}
