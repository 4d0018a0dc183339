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
/// `w` is the decay itself (in (0, 1)). `stateIn` may equal `stateOut` (in-place update).
public func wkv7(
    tokens: Int, ld: Int,
    r: UnsafePointer<Float>, w: UnsafePointer<Float>, k: UnsafePointer<Float>,
    v: UnsafePointer<Float>, kk: UnsafePointer<Float>, a: UnsafePointer<Float>,
    stateIn: UnsafePointer<Float>, stateOut: UnsafeMutablePointer<Float>,
    y: UnsafeMutablePointer<Float>, ldy: Int
) {
    let n = 64
    if UnsafePointer(stateOut) != stateIn {
        stateOut.update(from: stateIn, count: n * n)
    }
    // b_j = kk_j * a_j for the current token (the only per-token vector not given directly).
    var bRow = (Vec16(), Vec16(), Vec16(), Vec16())
    for block in 0..<4 {
        let s = stateOut + block * 16
        for t in 0..<tokens {
            let row = t * ld
            let kkT = kk + row, rT = r + row, wT = w + row, kT = k + row, aT = a + row
            withUnsafeMutableBytes(of: &bRow) { raw in
                let b = raw.baseAddress!.assumingMemoryBound(to: Float.self)
                for c in stride(from: 0, to: 64, by: 16) {
                    store16(load16(kkT + c) * load16(aT + c), b + c)
                }
            }
            // sa = S kk (the reference's S a with a = -kk, sign folded into the update).
            var sa0 = Vec16(), sa1 = Vec16(), sa2 = Vec16(), sa3 = Vec16()
            var j = 0
            while j < n {
                sa0 += load16(s + (j + 0) * n) * kkT[j + 0]
                sa1 += load16(s + (j + 1) * n) * kkT[j + 1]
                sa2 += load16(s + (j + 2) * n) * kkT[j + 2]
                sa3 += load16(s + (j + 3) * n) * kkT[j + 3]
                j += 4
            }
            let sa = (sa0 + sa1) + (sa2 + sa3)
            let vb = load16(v + row + block * 16)
            var y0 = Vec16(), y1 = Vec16()
            withUnsafeBytes(of: &bRow) { raw in
                let b = raw.baseAddress!.assumingMemoryBound(to: Float.self)
                var j = 0
                while j < n {
                    let p0 = s + j * n, p1 = s + (j + 1) * n
                    let s0 = load16(p0) * wT[j] - sa * b[j] + vb * kT[j]
                    let s1 = load16(p1) * wT[j + 1] - sa * b[j + 1] + vb * kT[j + 1]
                    store16(s0, p0)
                    store16(s1, p1)
                    y0 += s0 * rT[j]
                    y1 += s1 * rT[j + 1]
                    j += 2
                }
            }
            store16(y0 + y1, y + t * ldy + block * 16)
        }
    }
}
