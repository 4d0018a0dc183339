import Foundation

extension ModelArchitecture {
    /// The shape RWKV-7 (`RWKV_Tmix_x070`) gives a stack of `layerCount` x `embeddingSize`:
    /// LoRA ranks from the reference formulas, ffn 4 C. Released Tiny: `standard(layerCount: 12, embeddingSize: 768)`.
    public static func standard(layerCount: Int, embeddingSize: Int, headSize: Int = 64, vocabularySize: Int = 65536) -> ModelArchitecture {
        let c = Double(embeddingSize)
        func rounded32(_ value: Double) -> Int { max(32, Int((value / 32).rounded()) * 32) }
        return ModelArchitecture(
            layerCount: layerCount, embeddingSize: embeddingSize, headCount: embeddingSize / headSize, headSize: headSize,
            vocabularySize: vocabularySize,
            decayRank: rounded32(1.8 * c.squareRoot()),
            inContextRateRank: rounded32(1.8 * c.squareRoot()),
            valueResidualRank: layerCount > 1 ? rounded32(1.3 * c.squareRoot()) : 0,
            gateRank: embeddingSize == 1024 ? 128 : rounded32(0.6 * pow(c, 0.8)),
            feedForwardSize: 4 * embeddingSize)
    }

    /// The released sizes (vocabulary 65536, head size 64).
    public static let tiny = standard(layerCount: 12, embeddingSize: 768)
    public static let base = standard(layerCount: 24, embeddingSize: 1024)
    public static let large = standard(layerCount: 24, embeddingSize: 2048)
}

/// Fills tensors with plausible magnitudes: matrices ~ U(±1/sqrt(fan-in)), norms near 1, mixes in [0, 1].
private struct RandomWeightFactory {
    var generator: SeededGenerator

    mutating func values(_ count: Int, _ low: Float, _ high: Float) -> [Float] {
        (0..<count).map { _ in generator.uniform(low, high) }
    }
    mutating func matrix(_ rows: Int, _ columns: Int, fanIn: Int) -> FloatTensor {
        let bound = 1 / Float(max(fanIn, 1)).squareRoot()
        return FloatTensor(shape: [rows, columns], values: values(rows * columns, -bound, bound))
    }
    mutating func norm(_ c: Int) -> LayerNormWeights {
        LayerNormWeights(weight: values(c, 0.9, 1.1), bias: values(c, -0.05, 0.05))
    }
    mutating func block(_ layer: Int, _ a: ModelArchitecture) -> BlockWeights {
        let c = a.embeddingSize, f = a.feedForwardSize
        func lora(_ rank: Int) -> (FloatTensor, FloatTensor) { (matrix(c, rank, fanIn: c), matrix(rank, c, fanIn: rank)) }
        let (w1, w2) = lora(a.decayRank), (a1, a2) = lora(a.inContextRateRank), (g1, g2) = lora(a.gateRank)
        var v0: [Float]? = nil, v1: FloatTensor? = nil, v2: FloatTensor? = nil
        if layer > 0 { v0 = values(c, 0.5, 1.5); (v1, v2) = lora(a.valueResidualRank) }
        let timeMix = TimeMixWeights(
            xR: values(c, 0, 1), xW: values(c, 0, 1), xK: values(c, 0, 1), xV: values(c, 0, 1), xA: values(c, 0, 1), xG: values(c, 0, 1),
            w0: values(c, -6, -1), w1: w1, w2: w2, a0: values(c, -0.5, 0.5), a1: a1, a2: a2, v0: v0, v1: v1, v2: v2, g1: g1, g2: g2,
            kK: values(c, 0.5, 1), kA: values(c, 0.5, 1.5), rK: values(c, -0.5, 0.5),
            receptance: matrix(c, c, fanIn: c), key: matrix(c, c, fanIn: c), value: matrix(c, c, fanIn: c), output: matrix(c, c, fanIn: c),
            lnX: norm(c))
        let channelMix = ChannelMixWeights(xK: values(c, 0, 1), key: matrix(f, c, fanIn: c), value: matrix(c, f, fanIn: f))
        return BlockWeights(ln0: layer == 0 ? norm(c) : nil, ln1: norm(c), ln2: norm(c), timeMix: timeMix, channelMix: channelMix)
    }
}

extension EmbeddingModelWeights {
    /// Random weights of `architecture` (deterministic for a seed): for benchmarks and writer tests.
    public static func random(architecture: ModelArchitecture, seed: UInt64 = 0) -> EmbeddingModelWeights {
        var factory = RandomWeightFactory(generator: SeededGenerator(seed: seed))
        let c = architecture.embeddingSize
        let embedding = FloatTensor(shape: [architecture.vocabularySize, c], values: factory.values(architecture.vocabularySize * c, -1, 1))
        let blocks = (0..<architecture.layerCount).map { factory.block($0, architecture) }
        func head() -> TaskHeadWeights {
            TaskHeadWeights(fc1: factory.matrix(c, c, fanIn: c), fc2: factory.matrix(c, c, fanIn: c), norm: factory.norm(c))
        }
        let lnOut = factory.norm(c)
        let retrieval = head(), similarity = head(), classification = head()
        return EmbeddingModelWeights(
            architecture: architecture, embedding: embedding, blocks: blocks, lnOut: lnOut,
            retrievalHead: retrieval, similarityHead: similarity, classificationHead: classification)
    }
}

extension RerankerWeights {
    /// Random reranker weights: `architecture.layerCount` blocks reading `layerIndices`
    /// (default 0..<layerCount); `architecture.vocabularySize` is forced to 1.
    public static func random(architecture: ModelArchitecture, layerIndices: [Int]? = nil, seed: UInt64 = 0) -> RerankerWeights {
        var architecture = architecture
        architecture.vocabularySize = 1
        var factory = RandomWeightFactory(generator: SeededGenerator(seed: seed))
        let c = architecture.embeddingSize
        let token = factory.values(c, -1, 1)
        let blocks = (0..<architecture.layerCount).map { factory.block($0, architecture) }
        let lnOut = factory.norm(c)
        return RerankerWeights(
            architecture: architecture, token: token, blocks: blocks, lnOut: lnOut,
            hiddenWeight: factory.matrix(c, c, fanIn: c), hiddenBias: factory.values(c, -0.05, 0.05),
            scoreWeight: factory.matrix(1, c, fanIn: c), layerIndices: layerIndices ?? Array(0..<architecture.layerCount))
    }
}
