#ifndef RWKV_WKV7_H
#define RWKV_WKV7_H

#include <stddef.h>

/// The RWKV-7 recurrence for one head (64 channels) of one sequence over `tokens` tokens.
/// State: 64x64 floats, key-major (state[j * 64 + i] = S[i][j], i = value row, j = key column).
/// Per token: sa = S kk; S = S diag(w) - sa b^T + v k^T; y = S r  (b = kk * a, the reference's a = -kk).
/// Token rows have stride `ld` (pointers already at this head's channels); `state_in` may equal `state_out`.
/// Dispatches at run time to an AVX-512F or AVX2+FMA build on x86-64 CPUs that have them.
void rwkv_wkv7(int tokens, ptrdiff_t ld,
               const float *r, const float *w, const float *k, const float *v, const float *kk, const float *b,
               const float *state_in, float *state_out, float *y, ptrdiff_t ldy);

#endif
