/// LayerNorm over rows of width `width` (a multiple of 16): out = (x - mean) / sqrt(var + eps) * weight + bias.
/// `out` may equal `x`.
package func layerNorm(
    rows: Int, width: Int,
    x: UnsafePointer<Float>, ldx: Int,
    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float,
    out: UnsafeMutablePointer<Float>, ldo: Int
) {
    for row in 0..<rows {
        layerNormRow(width: width, x: x + row * ldx, weight: weight, bias: bias, eps: eps, out: out + row * ldo)
    }
}

@inline(__always)
package func layerNormRow(
    width: Int, x: UnsafePointer<Float>,
    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float,
    out: UnsafeMutablePointer<Float>
) {
    let (mean, rstd) = meanAndInverseDeviation(width: width, x: x, eps: eps)
    var c = 0
    while c < width {
        let v = (load16(x + c) - mean) * rstd
        store16(v * load16(weight + c) + load16(bias + c), out + c)
        c += 16
    }
}

/// Mean and 1 / sqrt(variance + eps) of `width` floats (two passes, like PyTorch, for accuracy).
@inline(__always)
package func meanAndInverseDeviation(width: Int, x: UnsafePointer<Float>, eps: Float) -> (Float, Float) {
    var s0 = Vec16(), s1 = Vec16()
    var c = 0
    while c + 32 <= width {
        s0 += load16(x + c)
        s1 += load16(x + c + 16)
        c += 32
    }
    if c < width { s0 += load16(x + c) }
    let mean = (s0 + s1).sum() / Float(width)
    var q0 = Vec16(), q1 = Vec16()
    c = 0
    while c + 32 <= width {
        let d0 = load16(x + c) - mean, d1 = load16(x + c + 16) - mean
        q0 += d0 * d0
        q1 += d1 * d1
        c += 32
    }
    if c < width {
        let d = load16(x + c) - mean
        q0 += d * d
    }
    let variance = (q0 + q1).sum() / Float(width)
    return (mean, 1 / (variance + eps).squareRoot())
}
