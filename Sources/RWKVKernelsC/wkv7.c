// The WKV recurrence in C so that it can be compiled for AVX2+FMA with a run-time CPU check (Swift
// code is compiled for the baseline x86-64, SSE2), and so that debug builds stay usable.
#include "rwkv_wkv7.h"
#include <string.h>

#define N 64
#define BLOCK 32  // value rows per pass: sa, y and v for 32 rows stay in registers

static inline __attribute__((always_inline)) void wkv7_body(
    int tokens, ptrdiff_t ld, const float *r, const float *w, const float *k, const float *v,
    const float *kk, const float *b, float *state, float *y, ptrdiff_t ldy) {
    for (int block = 0; block < N; block += BLOCK) {
        float *s = state + block;
        for (int t = 0; t < tokens; t++) {
            const float *rt = r + t * ld, *wt = w + t * ld, *kt = k + t * ld, *vt = v + t * ld + block;
            const float *kkt = kk + t * ld, *bt = b + t * ld;
            float sa[BLOCK], acc[BLOCK], vv[BLOCK];
            for (int i = 0; i < BLOCK; i++) { sa[i] = 0; acc[i] = 0; vv[i] = vt[i]; }
            for (int j = 0; j < N; j++) {
                const float *sj = s + j * N;
                const float x = kkt[j];
                for (int i = 0; i < BLOCK; i++) sa[i] += sj[i] * x;
            }
            for (int j = 0; j < N; j++) {
                float *sj = s + j * N;
                const float wj = wt[j], bj = bt[j], kj = kt[j], rj = rt[j];
                for (int i = 0; i < BLOCK; i++) {
                    const float n = sj[i] * wj - sa[i] * bj + vv[i] * kj;
                    sj[i] = n;
                    acc[i] += n * rj;
                }
            }
            float *yt = y + t * ldy + block;
            for (int i = 0; i < BLOCK; i++) yt[i] = acc[i];
        }
    }
}

static void wkv7_generic(int tokens, ptrdiff_t ld, const float *r, const float *w, const float *k, const float *v,
                         const float *kk, const float *b, float *state, float *y, ptrdiff_t ldy) {
    wkv7_body(tokens, ld, r, w, k, v, kk, b, state, y, ldy);
}

#if defined(__x86_64__) && defined(__clang__)
__attribute__((target("avx2,fma")))
static void wkv7_avx2(int tokens, ptrdiff_t ld, const float *r, const float *w, const float *k, const float *v,
                      const float *kk, const float *b, float *state, float *y, ptrdiff_t ldy) {
    wkv7_body(tokens, ld, r, w, k, v, kk, b, state, y, ldy);
}

static int has_avx2(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
}
#endif

void rwkv_wkv7(int tokens, ptrdiff_t ld,
               const float *r, const float *w, const float *k, const float *v, const float *kk, const float *b,
               const float *state_in, float *state_out, float *y, ptrdiff_t ldy) {
    if (state_out != state_in) memcpy(state_out, state_in, sizeof(float) * N * N);
#if defined(__x86_64__) && defined(__clang__)
    if (has_avx2()) {
        wkv7_avx2(tokens, ld, r, w, k, v, kk, b, state_out, y, ldy);
        return;
    }
#endif
    wkv7_generic(tokens, ld, r, w, k, v, kk, b, state_out, y, ldy);
}
