// Vectorised transcendental functions for the element-wise passes. libm's scalar expf/tanhf
// would cost about as much as the GEMMs (four per channel per token per layer), so these are
// branch-free polynomial versions over SIMD16 lanes (Cephes expf: ~1 ulp on the reduced range).

package typealias Vec16 = SIMD16<Float>

@inline(__always)
package func load16(_ p: UnsafePointer<Float>) -> Vec16 {
    UnsafeRawPointer(p).loadUnaligned(as: Vec16.self)
}

@inline(__always)
package func load16(_ p: UnsafeMutablePointer<Float>) -> Vec16 {
    UnsafeRawPointer(p).loadUnaligned(as: Vec16.self)
}

@inline(__always)
package func store16(_ v: Vec16, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec16.self)
}

/// e^x per lane. Inputs are clamped to [-87.3, 88.3] (exp of the ends is finite, no NaN from overflow).
@inline(__always)
package func vexp(_ input: Vec16) -> Vec16 {
    // Compare + blend (the standard library's clamped/pointwiseMin go lane by lane for NaN rules).
    let low = Vec16(repeating: -87.3), high = Vec16(repeating: 88.3)
    var x = input.replacing(with: low, where: input .< low)
    x = x.replacing(with: high, where: x .> high)
    // n = round(x / ln 2) with the 1.5 * 2^23 trick: the float nm = 1.5 * 2^23 + n has the integer n in
    // its low mantissa bits, so no float -> int conversion (which does not vectorise) is needed.
    let magic = Vec16(repeating: 12582912.0)
    let nm = x * Vec16(repeating: 1.44269504088896341) + magic
    let n = nm - magic
    // r = x - n ln2, in two parts for precision.
    var r = x - n * Vec16(repeating: 0.693359375)
    r = r + n * Vec16(repeating: 2.12194440e-4)
    var p = Vec16(repeating: 1.9875691500e-4)
    p = p * r + Vec16(repeating: 1.3981999507e-3)
    p = p * r + Vec16(repeating: 8.3334519073e-3)
    p = p * r + Vec16(repeating: 4.1665795894e-2)
    p = p * r + Vec16(repeating: 1.6666665459e-1)
    p = p * r + Vec16(repeating: 5.0000001201e-1)
    let r2 = r * r
    let y = p * r2 + r + Vec16(repeating: 1)
    // 2^n from the exponent bits: (n + 127) << 23, with n = bits(nm) - bits(1.5 * 2^23).
    let bits = (unsafeBitCast(nm, to: SIMD16<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    return y * unsafeBitCast(bits, to: Vec16.self)
}

/// 1 / (1 + e^-x).
@inline(__always)
package func vsigmoid(_ x: Vec16) -> Vec16 {
    Vec16(repeating: 1) / (Vec16(repeating: 1) + vexp(-x))
}

/// tanh x = 1 - 2 / (e^(2x) + 1) (exact to float rounding for all x; saturates cleanly).
@inline(__always)
package func vtanh(_ x: Vec16) -> Vec16 {
    Vec16(repeating: 1) - Vec16(repeating: 2) / (vexp(x + x) + Vec16(repeating: 1))
}
