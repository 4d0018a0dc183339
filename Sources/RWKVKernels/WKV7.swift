import RWKVKernelsC

/// Swift SIMD16 version of `wkv7` (compiled for the baseline CPU; kept as a cross-check for the C kernel).
/// The RWKV-7 recurrence for one head of one sequence, over `tokens` consecutive tokens.
///
/// The state is 64x64, stored **key-major**: `state[j * 64 + i]` holds S[i][j] of the paper/reference
/// (i = value row, j = key column). Per token, with sa = S a (a = -kk), b = kk * aRate:
///
///     S = S diag(w) + sa b^T + v k^T,    y = S r
///
/// Every value row i evolves independently, so the kernel walks 16-row blocks of i (one SIMD16 lane
/// group; the block's 64x16 slice of state stays in L1) through all tokens: per token one pass over j for
/// sa, and one fused pass that updates the state and accumulates y. No horizontal reductions.
///
/// Inputs are token rows with stride `ld` (pointers already offset to this head's 64 channels);
/// `w` is the decay itself (in (0, 1)), `b` = kk * a (the in-context rate). `stateIn` may equal `stateOut` (in-place update).
package func wkv7SIMD(
    tokens: Int, ld: Int,
    r: UnsafePointer<Float>, w: UnsafePointer<Float>, k: UnsafePointer<Float>,
    v: UnsafePointer<Float>, kk: UnsafePointer<Float>, b: UnsafePointer<Float>,
    stateIn: UnsafePointer<Float>, stateOut: UnsafeMutablePointer<Float>,
    y: UnsafeMutablePointer<Float>, ldy: Int
) {
    let n = 64
    if UnsafePointer(stateOut) != stateIn {
        stateOut.update(from: stateIn, count: n * n)
    }
    for block in 0..<4 {
        let s = stateOut + block * 16
        for t in 0..<tokens {
            let row = t * ld
            let kkT = kk + row, rT = r + row, wT = w + row, kT = k + row, bT = b + row
            // sa = S kk (the reference's S a with a = -kk; the sign is folded into the update).
            var sa0 = Vec16(), sa1 = Vec16(), sa2 = Vec16(), sa3 = Vec16()
            var j = 0
            while j < n {
                sa0 += load16(s + (j + 0) * n) * Vec16(repeating: kkT[j + 0])
                sa1 += load16(s + (j + 1) * n) * Vec16(repeating: kkT[j + 1])
                sa2 += load16(s + (j + 2) * n) * Vec16(repeating: kkT[j + 2])
                sa3 += load16(s + (j + 3) * n) * Vec16(repeating: kkT[j + 3])
                j += 4
            }
            let sa = (sa0 + sa1) + (sa2 + sa3)
            let vb = load16(v + row + block * 16)
            var y0 = Vec16(), y1 = Vec16()
            j = 0
            while j < n {
                let p0 = s + j * n, p1 = s + (j + 1) * n
                let s0 = load16(p0) * Vec16(repeating: wT[j]) - sa * Vec16(repeating: bT[j]) + vb * Vec16(repeating: kT[j])
                let s1 = load16(p1) * Vec16(repeating: wT[j + 1]) - sa * Vec16(repeating: bT[j + 1])
                    + vb * Vec16(repeating: kT[j + 1])
                store16(s0, p0)
                store16(s1, p1)
                y0 += s0 * Vec16(repeating: rT[j])
                y1 += s1 * Vec16(repeating: rT[j + 1])
                j += 2
            }
            store16(y0 + y1, y + t * ldy + block * 16)
        }
    }
}

/// The recurrence as run by the engine: the C kernel (AVX-512F or AVX2+FMA build, picked at run time). Same contract
/// as `wkv7SIMD`.
@inline(__always)
package func wkv7(
    tokens: Int, ld: Int,
    r: UnsafePointer<Float>, w: UnsafePointer<Float>, k: UnsafePointer<Float>,
    v: UnsafePointer<Float>, kk: UnsafePointer<Float>, b: UnsafePointer<Float>,
    stateIn: UnsafePointer<Float>, stateOut: UnsafeMutablePointer<Float>,
    y: UnsafeMutablePointer<Float>, ldy: Int
) {
    rwkv_wkv7(Int32(tokens), ld, r, w, k, v, kk, b, stateIn, stateOut, y, ldy)
}
