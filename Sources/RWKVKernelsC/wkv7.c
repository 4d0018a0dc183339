// The WKV recurrence in C so that it can be compiled for AVX-512 / AVX2+FMA with a run-time CPU check (Swift
// code is compiled for the baseline x86-64, SSE2), and so that debug builds stay usable.
#include "rwkv_wkv7.h"
#include <string.h>

#define N 64

// BLOCK value rows per pass: sa, y and v of the block stay in registers (32 with 16 AVX2 registers,
// 64 with 32 AVX-512 registers).
static inline __attribute__((always_inline)) void wkv7_body(
    int tokens, ptrdiff_t ld, const float *r, const float *w, const float *k, const float *v,
    const float *kk, const float *b, float *state, float *y, ptrdiff_t ldy, const int BLOCK) {
    for (int block = 0; block < N; block += BLOCK) {
        float *s = state + block;
        for (int t = 0; t < tokens; t++) {
            const float *rt = r + t * ld, *wt = w + t * ld, *kt = k + t * ld, *vt = v + t * ld + block;
            const float *kkt = kk + t * ld, *bt = b + t * ld;
            float sa[N], acc[N], vv[N];
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
    wkv7_body(tokens, ld, r, w, k, v, kk, b, state, y, ldy, 32);
}

#if defined(__x86_64__) && defined(__clang__)
__attribute__((target("avx512f")))
static void wkv7_avx512(int tokens, ptrdiff_t ld, const float *r, const float *w, const float *k, const float *v,
                        const float *kk, const float *b, float *state, float *y, ptrdiff_t ldy) {
    wkv7_body(tokens, ld, r, w, k, v, kk, b, state, y, ldy, 64);
}

__attribute__((target("avx2,fma")))
static void wkv7_avx2(int tokens, ptrdiff_t ld, const float *r, const float *w, const float *k, const float *v,
                      const float *kk, const float *b, float *state, float *y, ptrdiff_t ldy) {
    wkv7_body(tokens, ld, r, w, k, v, kk, b, state, y, ldy, 32);
}

// 2: AVX-512F, 1: AVX2 + FMA, 0: baseline.
// The cache is read and written with relaxed atomics: threads of the first forward pass may all
// probe at once (a data race ThreadSanitizer reported on the plain int); they store the same value.
static int cpu_level(void) {
    static int cached = -1;
    int level = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (level < 0) {
        __builtin_cpu_init();
        level = __builtin_cpu_supports("avx512f") ? 2
              : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 1 : 0;
        __atomic_store_n(&cached, level, __ATOMIC_RELAXED);
    }
    return level;
}
#endif

void rwkv_wkv7(int tokens, ptrdiff_t ld,
               const float *r, const float *w, const float *k, const float *v, const float *kk, const float *b,
               const float *state_in, float *state_out, float *y, ptrdiff_t ldy) {
    if (state_out != state_in) memcpy(state_out, state_in, sizeof(float) * N * N);
#if defined(__x86_64__) && defined(__clang__)
    switch (cpu_level()) {
    case 2: wkv7_avx512(tokens, ld, r, w, k, v, kk, b, state_out, y, ldy); return;
    case 1: wkv7_avx2(tokens, ld, r, w, k, v, kk, b, state_out, y, ldy); return;
    default: break;
    }
#endif
    wkv7_generic(tokens, ld, r, w, k, v, kk, b, state_out, y, ldy);
}
