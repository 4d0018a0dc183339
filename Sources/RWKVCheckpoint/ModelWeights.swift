// The typed, validated weights of an EmbeddingRWKV model and of its state-based reranker:
// the contract between the checkpoint loaders (this target) and the engine (EmbeddingRWKV).
//
// Every tensor is fp32, row-major, in the shape PyTorch stores it:
// - `nn.Linear` weights are [out, in] (y = x W^T: the engine calls sgemm with W transposed);
// - LoRA factors (`w1`, `w2`, `a1`, ...) are used as `x @ w1 @ w2`, so `w1` is [C, rank], `w2` [rank, C];
// - per-channel vectors ([1, 1, C] in the file) are flattened to [C]; `r_k` [H, 64] is flattened to [H*64].
//
// Only this target builds them (the .pth/.safetensors loaders and RandomWeights), so apart from
// FloatTensor and ModelArchitecture they keep Swift's internal memberwise initialisers.

/// A dense fp32 tensor: `values.count == shape.reduce(1, *)`.
public struct FloatTensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(values.count == shape.reduce(1, *), "FloatTensor: \(values.count) values for shape \(shape)")
        self.shape = shape
        self.values = values
    }
}

/// The shape of an RWKV-7 stack, read from the tensors' shapes.
public struct ModelArchitecture: Sendable, Equatable, CustomStringConvertible {
    /// Number of blocks.
    public var layerCount: Int
    /// Channel width C (= headCount * headSize).
    public var embeddingSize: Int
    public var headCount: Int
    /// Always 64 for released models.
    public var headSize: Int
    /// Rows of the token embedding (65536 for the world vocabulary; 1 for the reranker's learned token).
    public var vocabularySize: Int
    /// Inner sizes of the LoRAs: decay (w), in-context rate (a), value residual (v), gate (g).
    public var decayRank: Int
    public var inContextRateRank: Int
    /// 0 when the stack has a single block (block 0 has no value-residual LoRA).
    public var valueResidualRank: Int
    public var gateRank: Int
    /// Channel-mix hidden width (4 C for released models).
    public var feedForwardSize: Int

    public init(
        layerCount: Int, embeddingSize: Int, headCount: Int, headSize: Int, vocabularySize: Int,
        decayRank: Int, inContextRateRank: Int, valueResidualRank: Int, gateRank: Int, feedForwardSize: Int
    ) {
        self.layerCount = layerCount
        self.embeddingSize = embeddingSize
        self.headCount = headCount
        self.headSize = headSize
        self.vocabularySize = vocabularySize
        self.decayRank = decayRank
        self.inContextRateRank = inContextRateRank
        self.valueResidualRank = valueResidualRank
        self.gateRank = gateRank
        self.feedForwardSize = feedForwardSize
    }

    public var description: String {
        "\(layerCount) layers x \(embeddingSize) (\(headCount) heads of \(headSize)), vocabulary \(vocabularySize), "
            + "LoRA ranks w \(decayRank) a \(inContextRateRank) v \(valueResidualRank) g \(gateRank), ffn \(feedForwardSize)"
    }
}

public struct LayerNormWeights: Sendable, Equatable {
    public var weight: [Float]
    public var bias: [Float]
}

/// `blocks.{i}.att.*`: the RWKV-7 time-mix.
public struct TimeMixWeights: Sendable, Equatable {
    /// Token-shift interpolation per projection input, [C] each.
    public var xR, xW, xK, xV, xA, xG: [Float]
    /// Decay: w0 [C], w1 [C, decayRank], w2 [decayRank, C].
    public var w0: [Float]
    public var w1, w2: FloatTensor
    /// In-context learning rate: a0 [C], a1 [C, rank], a2 [rank, C].
    public var a0: [Float]
    public var a1, a2: FloatTensor
    /// Value residual (absent on block 0): v0 [C], v1 [C, rank], v2 [rank, C].
    public var v0: [Float]?
    public var v1, v2: FloatTensor?
    /// Output gate: g1 [C, rank], g2 [rank, C].
    public var g1, g2: FloatTensor
    /// k_k, k_a [C]; r_k flattened from [H, 64] to [C].
    public var kK, kA, rK: [Float]
    /// nn.Linear weights, [C, C] as [out, in].
    public var receptance, key, value, output: FloatTensor
    /// GroupNorm (H groups, eps 64e-5) after the WKV recurrence.
    public var lnX: LayerNormWeights
}

/// `blocks.{i}.ffn.*`: the channel-mix (token shift, relu squared).
public struct ChannelMixWeights: Sendable, Equatable {
    /// [C]
    public var xK: [Float]
    /// [feedForwardSize, C] and [C, feedForwardSize], as [out, in].
    public var key, value: FloatTensor
}

public struct BlockWeights: Sendable, Equatable {
    /// Only on block 0 (the engine folds it into the embedding table).
    public var ln0: LayerNormWeights?
    public var ln1, ln2: LayerNormWeights
    public var timeMix: TimeMixWeights
    public var channelMix: ChannelMixWeights
}

/// `head.{retr,sts,cls}_head.*`: LayerNorm(fc2(relu(fc1 x)) + x).
public struct TaskHeadWeights: Sendable, Equatable {
    /// [hidden, C] and [C, hidden], as [out, in]; no biases.
    public var fc1, fc2: FloatTensor
    public var norm: LayerNormWeights
}

/// An embedding checkpoint (`rwkv.*` and `head.*` keys).
public struct EmbeddingModelWeights: Sendable {
    public var architecture: ModelArchitecture
    /// `rwkv.emb.weight`, [vocabularySize, C], as stored (ln0 not yet applied).
    public var embedding: FloatTensor
    public var blocks: [BlockWeights]
    public var lnOut: LayerNormWeights
    public var retrievalHead: TaskHeadWeights
    public var similarityHead: TaskHeadWeights
    public var classificationHead: TaskHeadWeights
}

/// A state-based reranker checkpoint (`reranker.*`, optional `reranker_layer_idx`).
public struct RerankerWeights: Sendable {
    /// `layerCount` is the number of reranker blocks; vocabularySize is 1.
    public var architecture: ModelArchitecture
    /// `reranker.emb.weight` (older name `reranker.token.weight`), the learned token, [C].
    public var token: [Float]
    public var blocks: [BlockWeights]
    public var lnOut: LayerNormWeights
    /// `reranker.head.0`: Linear(C, C) with bias; `reranker.head.2`: Linear(C, 1) without bias, [1, C].
    public var hiddenWeight: FloatTensor
    public var hiddenBias: [Float]
    public var scoreWeight: FloatTensor
    /// Which embedding-model layer's WKV state each reranker block starts from
    /// (`reranker_layer_idx`; 0..<layerCount when the checkpoint has none).
    public var layerIndices: [Int]
}
