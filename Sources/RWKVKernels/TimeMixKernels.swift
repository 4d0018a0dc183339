// Fused per-row passes of the RWKV-7 time-mix and channel-mix (rows of width C, a multiple of 64).

/// Token shift + the six interpolations of the time-mix, one pass over the row:
/// out_m = x + (previous - x) * mix_m for m in (r, w, k, v, a, g).
/// `mix` holds the six [C] vectors back to back; `out` the six outputs with stride `ldOut` between them.
@inline(__always)
package func tokenShiftLerp6Row(
    width: Int, x: UnsafePointer<Float>, previous: UnsafePointer<Float>,
    mix: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, outputStride: Int
) {
    var c = 0
    while c < width {
        let xv = load16(x + c)
        let d = load16(previous + c) - xv
        for m in 0..<6 {
            store16(xv + d * load16(mix + m * width + c), out + m * outputStride + c)
        }
        c += 16
    }
}

/// Token shift + one interpolation (the channel-mix input).
@inline(__always)
package func tokenShiftLerpRow(
    width: Int, x: UnsafePointer<Float>, previous: UnsafePointer<Float>,
    mix: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
) {
    var c = 0
    while c < width {
        let xv = load16(x + c)
        store16(xv + (load16(previous + c) - xv) * load16(mix + c), out + c)
        c += 16
    }
}

/// The parameters of `timeMixPrepareRow` that do not change per token.
package struct TimeMixVectors {
    package var w0, a0, kK, kA: UnsafePointer<Float>
    /// nil on layer 0 (which stores its v as v_first instead of mixing it in).
    package var v0: UnsafePointer<Float>?

    package init(w0: UnsafePointer<Float>, a0: UnsafePointer<Float>, kK: UnsafePointer<Float>,
                kA: UnsafePointer<Float>, v0: UnsafePointer<Float>?) {
        self.w0 = w0; self.a0 = a0; self.kK = kK; self.kA = kA; self.v0 = v0
    }
}

/// e^-0.5: the decay is exp(-e^-0.5 * sigmoid(w0 + lora)) (the reference's soft clamp to (-inf, -0.5)).
@usableFromInline let decayScale: Float = 0.6065306597126334

/// Everything between the projections and the recurrence, for one token row:
/// - `w` (decay LoRA output) -> decay exp(-e^-0.5 sigmoid(w0 + w)),
/// - `a` (LoRA output) -> b = kk * sigmoid(a0 + a) (the recurrence's b; a itself is not kept),
/// - `kk` = normalize(k * k_k) per 64-channel head (F.normalize, eps 1e-12),
/// - `k` -> k * (1 + (a - 1) * k_a),
/// - layer 0: vFirst = v; later layers: v += (vFirst - v) * sigmoid(v0 + vGate).
@inline(__always)
package func timeMixPrepareRow(
    width: Int, p: TimeMixVectors,
    k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
    w: UnsafeMutablePointer<Float>, a: UnsafeMutablePointer<Float>, kk: UnsafeMutablePointer<Float>,
    vFirst: UnsafeMutablePointer<Float>, vGate: UnsafePointer<Float>?
) {
    let one = Vec16(repeating: 1)
    var head = 0
    while head < width {
        var sq = Vec16()
        for c in stride(from: head, to: head + 64, by: 16) {
            let kv = load16(k + c)
            let kkv = kv * load16(p.kK + c)
            store16(kkv, kk + c)
            sq += kkv * kkv
            let av = vsigmoid(load16(p.a0 + c) + load16(a + c))
            store16(av, a + c)
            store16(kv * (one + (av - one) * load16(p.kA + c)), k + c)
            let wv = vsigmoid(load16(p.w0 + c) + load16(w + c))
            store16(vexp(wv * -decayScale), w + c)
        }
        let inverseNorm = Vec16(repeating: 1 / max(sq.sum().squareRoot(), 1e-12))
        for c in stride(from: head, to: head + 64, by: 16) {
            let kkv = load16(kk + c) * inverseNorm
            store16(kkv, kk + c)
            store16(kkv * load16(a + c), a + c)  // a is only needed as b = kk * a from here on
        }
        head += 64
    }
    if let v0 = p.v0, let vGate {
        var c = 0
        while c < width {
            let vv = load16(v + c)
            let gate = vsigmoid(load16(v0 + c) + load16(vGate + c))
            store16(vv + (load16(vFirst + c) - vv) * gate, v + c)
            c += 16
        }
    } else {
        vFirst.update(from: v, count: width)
    }
}

/// After the recurrence, per 64-channel head: GroupNorm (eps 64e-5) of y, plus the bonus
/// (sum_j r_j k_j rK_j) v, times the gate g. Written to `out` (may equal `y`).
@inline(__always)
package func groupNormBonusGateRow(
    width: Int, y: UnsafePointer<Float>,
    r: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, g: UnsafePointer<Float>,
    rK: UnsafePointer<Float>, lnWeight: UnsafePointer<Float>, lnBias: UnsafePointer<Float>, eps: Float,
    out: UnsafeMutablePointer<Float>
) {
    var head = 0
    while head < width {
        let (mean, rstd) = meanAndInverseDeviation(width: 64, x: y + head, eps: eps)
        var bonus = Vec16()
        for c in stride(from: head, to: head + 64, by: 16) {
            bonus += load16(r + c) * load16(k + c) * load16(rK + c)
        }
        let b = bonus.sum()
        for c in stride(from: head, to: head + 64, by: 16) {
            let n = (load16(y + c) - mean) * rstd * load16(lnWeight + c) + load16(lnBias + c)
            store16((n + b * load16(v + c)) * load16(g + c), out + c)
        }
        head += 64
    }
}
