import RWKVCheckpoint
import RWKVKernels

/// One RWKV-7 block in the engine's layout: fp32 buffers, the six projections as `LinearWeight`s
/// ([out, in], converted once to the model's matrix format), the six token-shift mixes in one [6][C] vector.
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
        let receptance, key, value, output: LinearWeight
        let lnXWeight, lnXBias: WeightBuffer
    }

    struct ChannelMix: Sendable {
        let mix: WeightBuffer
        /// [ffn, C] and [C, ffn] as [out, in].
        let key, value: LinearWeight
        let hiddenSize: Int
    }

    /// `format`, `int8Range` and `nativeBF16` apply to the six projections (`LinearWeight`).
    init(_ b: BlockWeights, isFirst: Bool, format: MatrixFormat = .fp32, int8Range: Int = 63, nativeBF16: Bool = false) {
        func linear(_ t: FloatTensor) -> LinearWeight {
            LinearWeight(t.values, outputs: t.shape[0], inputs: t.shape[1], format: format, int8Range: int8Range,
                         nativeBF16: nativeBF16)
        }
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
            receptance: linear(t.receptance), key: linear(t.key), value: linear(t.value), output: linear(t.output),
            lnXWeight: WeightBuffer(t.lnX.weight), lnXBias: WeightBuffer(t.lnX.bias))
        let c = b.channelMix
        channelMix = ChannelMix(mix: WeightBuffer(c.xK), key: linear(c.key), value: linear(c.value),
                                hiddenSize: c.key.shape[0])
    }

    /// Bytes held by the six projections (in their matrix format).
    var projectionBytes: Int {
        [timeMix.receptance, timeMix.key, timeMix.value, timeMix.output, channelMix.key, channelMix.value]
            .reduce(0) { $0 + $1.byteCount }
    }

    var maxRank: Int {
        max(timeMix.decayRank, timeMix.inContextRateRank, timeMix.valueResidualRank, timeMix.gateRank)
    }
}
