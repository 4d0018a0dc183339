import RWKVCheckpoint

/// One RWKV-7 block in the engine's layout: fp32 buffers, nn.Linear weights kept [out, in]
/// (the GEMMs read them transposed), the six token-shift mixes in one [6][C] vector.
/// Block 0's ln0 is not here: it is folded into the embedding table (or the reranker's token).
struct Block: Sendable {
    let ln1Weight, ln1Bias, ln2Weight, ln2Bias: WeightBuffer
    let timeMix: TimeMix
    let channelMix: ChannelMix

    struct TimeMix: Sendable {
        /// x_r, x_w, x_k, x_v, x_a, x_g back to back.
        let mix: WeightBuffer
        let w0, a0, kK, kA, rK: WeightBuffer
        /// nil on block 0.
        let v0, v1, v2: WeightBuffer?
        /// LoRA factors: first [C, rank], second [rank, C].
        let w1, w2, a1, a2, g1, g2: WeightBuffer
        let decayRank, inContextRateRank, valueResidualRank, gateRank: Int
        /// [C, C] as [out, in].
        let receptance, key, value, output: WeightBuffer
        let lnXWeight, lnXBias: WeightBuffer
    }

    struct ChannelMix: Sendable {
        let mix: WeightBuffer
        /// [ffn, C] and [C, ffn] as [out, in].
        let key, value: WeightBuffer
        let hiddenSize: Int
    }

    init(_ b: BlockWeights, isFirst: Bool) {
        ln1Weight = WeightBuffer(b.ln1.weight); ln1Bias = WeightBuffer(b.ln1.bias)
        ln2Weight = WeightBuffer(b.ln2.weight); ln2Bias = WeightBuffer(b.ln2.bias)
        let t = b.timeMix
        let hasResidual = !isFirst && t.v0 != nil && t.v1 != nil && t.v2 != nil
        timeMix = TimeMix(
            mix: WeightBuffer(concatenating: [t.xR, t.xW, t.xK, t.xV, t.xA, t.xG]),
            w0: WeightBuffer(t.w0), a0: WeightBuffer(t.a0), kK: WeightBuffer(t.kK), kA: WeightBuffer(t.kA),
            rK: WeightBuffer(t.rK),
            v0: hasResidual ? WeightBuffer(t.v0!) : nil,
            v1: hasResidual ? WeightBuffer(t.v1!) : nil,
            v2: hasResidual ? WeightBuffer(t.v2!) : nil,
            w1: WeightBuffer(t.w1), w2: WeightBuffer(t.w2), a1: WeightBuffer(t.a1), a2: WeightBuffer(t.a2),
            g1: WeightBuffer(t.g1), g2: WeightBuffer(t.g2),
            decayRank: t.w1.shape[1], inContextRateRank: t.a1.shape[1],
            valueResidualRank: hasResidual ? t.v1!.shape[1] : 0, gateRank: t.g1.shape[1],
            receptance: WeightBuffer(t.receptance), key: WeightBuffer(t.key), value: WeightBuffer(t.value),
            output: WeightBuffer(t.output),
            lnXWeight: WeightBuffer(t.lnX.weight), lnXBias: WeightBuffer(t.lnX.bias))
        let c = b.channelMix
        channelMix = ChannelMix(mix: WeightBuffer(c.xK), key: WeightBuffer(c.key), value: WeightBuffer(c.value),
                                hiddenSize: c.key.shape[0])
    }

    var maxRank: Int {
        max(timeMix.decayRank, timeMix.inContextRateRank, timeMix.valueResidualRank, timeMix.gateRank)
    }
}
