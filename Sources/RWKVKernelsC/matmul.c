#include "rwkv_matmul.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

unsigned rwkv_cpu_features(void) {
    unsigned a, b, c, d, bits = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int osxsave = (c >> 27) & 1;
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    int ymm = (xcr0 & 0x6) == 0x6, zmm = ymm && (xcr0 & 0xe0) == 0xe0;
    int tiles = (xcr0 & 0x60000) == 0x60000;  // XTILECFG + XTILEDATA (Linux grants the data on request)
    if (ymm && ((c >> 12) & 1)) bits |= RWKV_CPU_FMA;
    if (ymm && ((c >> 29) & 1)) bits |= RWKV_CPU_F16C;
    unsigned maxLeaf = __get_cpuid_max(0, 0);
    if (maxLeaf < 7) return bits;
    __cpuid_count(7, 0, a, b, c, d);
    if (ymm && ((b >> 5) & 1)) bits |= RWKV_CPU_AVX2;
    if (zmm && ((b >> 16) & 1)) bits |= RWKV_CPU_AVX512F;
    if (zmm && ((b >> 30) & 1)) bits |= RWKV_CPU_AVX512BW;
    if (zmm && ((c >> 11) & 1)) bits |= RWKV_CPU_AVX512VNNI;
    if ((d >> 24) & 1) bits |= RWKV_CPU_AMX_TILE;
    if ((d >> 22) & 1) bits |= RWKV_CPU_AMX_BF16;
    if ((d >> 25) & 1) bits |= RWKV_CPU_AMX_INT8;
    if (!tiles) bits &= ~(unsigned)(RWKV_CPU_AMX_TILE | RWKV_CPU_AMX_BF16 | RWKV_CPU_AMX_INT8);
    unsigned subleaves = a;
    if (subleaves >= 1) {
        __cpuid_count(7, 1, a, b, c, d);
        if (ymm && ((a >> 4) & 1)) bits |= RWKV_CPU_AVXVNNI;
        if (zmm && ((a >> 5) & 1)) bits |= RWKV_CPU_AVX512BF16;
    }
    return bits;
}
#else
unsigned rwkv_cpu_features(void) { return 0; }
#endif

// MARK: oneDNN, loaded at run time

typedef int (*gemm_s8s8s32_fn)(char, char, char, int64_t, int64_t, int64_t, float, const int8_t *, int64_t, int8_t,
                               const int8_t *, int64_t, int8_t, float, int32_t *, int64_t, const int32_t *);
typedef struct { int major, minor, patch; const char *hash; } dnnl_version_like;
typedef const dnnl_version_like *(*version_fn)(void);
typedef void (*omp_set_threads_fn)(int);

static pthread_once_t onednn_once = PTHREAD_ONCE_INIT;
static gemm_s8s8s32_fn gemm_s8s8s32;
static omp_set_threads_fn omp_set_threads;
static char onednn_version_text[32];

static void load_onednn(void) {
    void *handle = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!handle) handle = dlopen("libdnnl.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!handle) return;
    gemm_s8s8s32 = (gemm_s8s8s32_fn)dlsym(handle, "dnnl_gemm_s8s8s32");
    omp_set_threads = (omp_set_threads_fn)dlsym(handle, "omp_set_num_threads");
    version_fn version = (version_fn)dlsym(handle, "dnnl_version");
    if (version) {
        const dnnl_version_like *v = version();
        snprintf(onednn_version_text, sizeof onednn_version_text, "%d.%d.%d", v->major, v->minor, v->patch);
    }
}

int rwkv_onednn_available(void) {
    pthread_once(&onednn_once, load_onednn);
    return gemm_s8s8s32 != NULL;
}

const char *rwkv_onednn_version(void) {
    return rwkv_onednn_available() && onednn_version_text[0] ? onednn_version_text : NULL;
}

// MARK: int8

void rwkv_quantize_rows_int8(int rows, int k, const float *x, ptrdiff_t ldx, int qmax, int8_t *q, float *scale) {
    for (int r = 0; r < rows; r++) {
        const float *row = x + (ptrdiff_t)r * ldx;
        float m = 0;
        for (int i = 0; i < k; i++) m = fmaxf(m, fabsf(row[i]));
        float s = m / (float)qmax, inv = m > 0 ? (float)qmax / m : 0;
        int8_t *out = q + (ptrdiff_t)r * k;
        for (int i = 0; i < k; i++) out[i] = (int8_t)lrintf(row[i] * inv);
        scale[r] = s;
    }
}

/// Per-thread scratch, grown on demand (the engine's workers are long-lived threads).
static __thread int8_t *scratch_q;
static __thread size_t scratch_q_size;
static __thread int32_t *scratch_acc;
static __thread size_t scratch_acc_size;
static __thread float *scratch_scale;
static __thread size_t scratch_scale_size;
static __thread int omp_single;

static int grow(void **p, size_t *size, size_t need) {
    if (need <= *size) return 1;
    void *n = realloc(*p, need);
    if (!n) return 0;
    *p = n;
    *size = need;
    return 1;
}

int rwkv_linear_int8(int m, int n, int k, const float *x, ptrdiff_t ldx, const int8_t *w, const float *w_scale,
                     float *y, ptrdiff_t ldy, int accumulate) {
    if (!rwkv_onednn_available()) return -1;
    if (m <= 0 || n <= 0) return 0;
    if (!grow((void **)&scratch_q, &scratch_q_size, (size_t)m * k) ||
        !grow((void **)&scratch_acc, &scratch_acc_size, (size_t)m * n * sizeof(int32_t)) ||
        !grow((void **)&scratch_scale, &scratch_scale_size, (size_t)m * sizeof(float)))
        return -2;
    if (!omp_single && omp_set_threads) {  // the caller owns the parallelism: no OpenMP team per call
        omp_set_threads(1);
        omp_single = 1;
    }
    rwkv_quantize_rows_int8(m, k, x, ldx, 127, scratch_q, scratch_scale);
    int32_t zero = 0;
    int status = gemm_s8s8s32('N', 'T', 'F', m, n, k, 1.0f, scratch_q, k, 0, w, k, 0, 0.0f, scratch_acc, n, &zero);
    if (status != 0) return status;
    for (int r = 0; r < m; r++) {
        const int32_t *acc = scratch_acc + (ptrdiff_t)r * n;
        float *out = y + (ptrdiff_t)r * ldy, s = scratch_scale[r];
        if (accumulate) {
            for (int j = 0; j < n; j++) out[j] += (float)acc[j] * (s * w_scale[j]);
        } else {
            for (int j = 0; j < n; j++) out[j] = (float)acc[j] * (s * w_scale[j]);
        }
    }
    return 0;
}

// MARK: bf16

void rwkv_bf16_from_f32(size_t count, const float *src, uint16_t *dst) {
    for (size_t i = 0; i < count; i++) {
        uint32_t u;
        memcpy(&u, &src[i], 4);
        if ((u & 0x7fffffffu) > 0x7f800000u) {
            dst[i] = (uint16_t)((u >> 16) | 0x40);  // quiet NaN
        } else {
            dst[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
        }
    }
}

void rwkv_f32_from_bf16(size_t rows, size_t cols, const uint16_t *src, size_t src_stride, float *dst, size_t dst_stride) {
    for (size_t r = 0; r < rows; r++) {
        const uint16_t *s = src + r * src_stride;
        float *d = dst + r * dst_stride;
        for (size_t i = 0; i < cols; i++) {
            uint32_t u = (uint32_t)s[i] << 16;
            memcpy(&d[i], &u, 4);
        }
    }
}

static __thread float *scratch_panel;
static __thread size_t scratch_panel_size;

float *rwkv_thread_scratch(size_t count) {
    return grow((void **)&scratch_panel, &scratch_panel_size, count * sizeof(float)) ? scratch_panel : NULL;
}
