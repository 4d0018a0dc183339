import Foundation

/// What a load found besides the weights: for `rwkv-emb inspect` and for logging by callers
/// (the library itself never prints).
public struct CheckpointReport: Sendable, Equatable {
    public var format: CheckpointFormat
    /// The storage dtypes of the tensors used, e.g. ["bfloat16"].
    public var dtypes: [String]
    /// Parameters in the typed weights (elements of the tensors used).
    public var parameterCount: Int
    /// Tensors present in the file but not used by the model (LM head, image tower, ...).
    public var unusedKeys: [String]
    /// Readable remarks (e.g. that an unused image tower is present).
    public var notes: [String]
}

public struct LoadedCheckpoint<Weights: Sendable>: Sendable {
    public var weights: Weights
    public var report: CheckpointReport
}

extension EmbeddingModelWeights {
    /// Loads an embedding checkpoint (`.pth` or `.safetensors`, recognised by content), memory-mapped.
    public static func load(contentsOf url: URL) throws -> EmbeddingModelWeights {
        try loadWithReport(contentsOf: url).weights
    }

    public static func loadWithReport(contentsOf url: URL) throws -> LoadedCheckpoint<EmbeddingModelWeights> {
        try build(from: CheckpointContents.open(url))
    }

    /// Loads from bytes already in memory (tests, fuzzing, embedded models).
    public static func load(from data: Data) throws -> LoadedCheckpoint<EmbeddingModelWeights> {
        try build(from: CheckpointContents.parse(data))
    }

    static func build(from contents: CheckpointContents) throws -> LoadedCheckpoint<EmbeddingModelWeights> {
        var taker = try TensorTaker(contents)
        if !taker.has("rwkv.emb.weight") && taker.has("reranker.blocks.0.att.r_k") {
            throw CheckpointError.missingTensor(key: "rwkv.emb.weight", hint: "this is a reranker checkpoint; load it as a reranker")
        }
        let architecture = try WeightSchema.architecture(taker, prefix: "rwkv.", vocabularyKey: "rwkv.emb.weight")
        let c = architecture.embeddingSize
        let embedding = try taker.tensor("rwkv.emb.weight", [architecture.vocabularySize, c])
        let blocks = try WeightSchema.blocks(&taker, prefix: "rwkv.", architecture)
        let lnOut = try taker.layerNorm("rwkv.ln_out", c)
        let weights = EmbeddingModelWeights(
            architecture: architecture, embedding: embedding, blocks: blocks, lnOut: lnOut,
            retrievalHead: try WeightSchema.taskHead(&taker, "retr_head", width: c),
            similarityHead: try WeightSchema.taskHead(&taker, "sts_head", width: c),
            classificationHead: try WeightSchema.taskHead(&taker, "cls_head", width: c))
        return LoadedCheckpoint(weights: weights, report: report(contents, taker))
    }
}

extension RerankerWeights {
    /// Loads a reranker checkpoint (`.pth` or `.safetensors`, recognised by content), memory-mapped.
    /// With `embedding`, also checks that it can run on that model's states (same width and head
    /// size, layer indices inside the embedding model).
    public static func load(contentsOf url: URL, pairedWith embedding: ModelArchitecture? = nil) throws -> RerankerWeights {
        try loadWithReport(contentsOf: url, pairedWith: embedding).weights
    }

    public static func loadWithReport(contentsOf url: URL, pairedWith embedding: ModelArchitecture? = nil) throws -> LoadedCheckpoint<RerankerWeights> {
        try build(from: CheckpointContents.open(url), pairedWith: embedding)
    }

    public static func load(from data: Data, pairedWith embedding: ModelArchitecture? = nil) throws -> LoadedCheckpoint<RerankerWeights> {
        try build(from: CheckpointContents.parse(data), pairedWith: embedding)
    }

    static func build(from contents: CheckpointContents, pairedWith embedding: ModelArchitecture?) throws -> LoadedCheckpoint<RerankerWeights> {
        var taker = try TensorTaker(contents)
        if !taker.has("reranker.blocks.0.att.r_k") && taker.has("rwkv.emb.weight") {
            throw CheckpointError.missingTensor(key: "reranker.blocks.0.att.r_k", hint: "this is an embedding checkpoint; load it as an embedding model")
        }
        // `reranker.token.weight` is the older name of `reranker.emb.weight`.
        let tokenKey = taker.has("reranker.emb.weight") || !taker.has("reranker.token.weight") ? "reranker.emb.weight" : "reranker.token.weight"
        let architecture = try WeightSchema.architecture(taker, prefix: "reranker.", vocabularyKey: tokenKey)
        let c = architecture.embeddingSize
        guard architecture.vocabularySize == 1 else {
            throw CheckpointError.wrongShape(key: tokenKey, expected: [1, c], found: [architecture.vocabularySize, c])
        }
        let layerIndices = try validatedLayerIndices(contents.rerankerLayerIndices, architecture, embedding)
        let token = try taker.tensor(tokenKey, [1, c]).values
        let blocks = try WeightSchema.blocks(&taker, prefix: "reranker.", architecture)
        let weights = RerankerWeights(
            architecture: architecture, token: token, blocks: blocks,
            lnOut: try taker.layerNorm("reranker.ln_out", c),
            hiddenWeight: try taker.tensor("reranker.head.0.weight", [c, c]),
            hiddenBias: try taker.vector("reranker.head.0.bias", c),
            scoreWeight: try taker.tensor("reranker.head.2.weight", [1, c]),
            layerIndices: layerIndices)
        return LoadedCheckpoint(weights: weights, report: report(contents, taker))
    }

    static func validatedLayerIndices(_ stored: [Int]?, _ architecture: ModelArchitecture, _ embedding: ModelArchitecture?) throws -> [Int] {
        if let embedding {
            guard embedding.embeddingSize == architecture.embeddingSize else {
                throw CheckpointError.incompatibleReranker("the reranker is \(architecture.embeddingSize) wide, the embedding model \(embedding.embeddingSize)")
            }
            guard embedding.headSize == architecture.headSize, embedding.headCount == architecture.headCount else {
                throw CheckpointError.incompatibleReranker("the reranker has \(architecture.headCount) heads of \(architecture.headSize), the embedding model \(embedding.headCount) of \(embedding.headSize)")
            }
        }
        let indices = stored ?? Array(0..<architecture.layerCount)
        guard indices.count == architecture.layerCount else {
            throw CheckpointError.invalidLayerIndices("\(indices.count) indices \(indices.prefix(16)) for \(architecture.layerCount) reranker blocks")
        }
        if let bad = indices.first(where: { $0 < 0 }) { throw CheckpointError.invalidLayerIndices("negative layer \(bad)") }
        if let embedding, let bad = indices.first(where: { $0 >= embedding.layerCount }) {
            throw CheckpointError.incompatibleReranker("the reranker reads layer \(bad), the embedding model has \(embedding.layerCount) layers")
        }
        return indices
    }
}

private func report(_ contents: CheckpointContents, _ taker: TensorTaker) -> CheckpointReport {
    let used = contents.tensors.filter { taker.consumed.contains($0.name) }
    let dtypes = Array(Set(used.map(\.dtype.rawValue))).sorted()
    let unused = taker.unusedNames
    return CheckpointReport(
        format: contents.format, dtypes: dtypes, parameterCount: taker.parameterCount,
        unusedKeys: unused, notes: contents.notes + WeightSchema.unusedNotes(unused))
}
