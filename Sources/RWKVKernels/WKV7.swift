import RWKVKernelsC

/// The RWKV-7 recurrence for one head of one sequence, over `tokens` consecutive tokens: the C kernel
/// (`rwkv_wkv7`: an AVX-512F or AVX2+FMA body picked at run time, a portable one elsewhere).
///
/// The state is 64x64, stored **key-major**: `state[j * 64 + i]` holds S[i][j] of the paper/reference
/// (i = value row, j = key column). Per token, with sa = S a (a = -kk), b = kk * aRate:
///
///     S = S diag(w) + sa b^T + v k^T,    y = S r
///
/// Every value row i evolves independently, so the kernel walks blocks of rows (32 with AVX2, 64 with
/// AVX-512: the block's sa, y and v stay in registers) through all tokens: per token one pass over j for
/// sa, and one fused pass that updates the state and accumulates y. No horizontal reductions.
///
/// Inputs are token rows with stride `ld` (pointers already offset to this head's 64 channels);
/// `w` is the decay itself (in (0, 1)), `b` = kk * a (the in-context rate). `stateIn` may equal `stateOut` (in-place update).
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
