#ifndef RWKV_MATMUL_H
#define RWKV_MATMUL_H

#include <stddef.h>
#include <stdint.h>

/// CPU features that decide which matrix kernels can run (cpuid + the OS's saved register state).
enum {
    RWKV_CPU_AVX2 = 1 << 0,
    RWKV_CPU_FMA = 1 << 1,
    RWKV_CPU_F16C = 1 << 2,
    RWKV_CPU_AVX512F = 1 << 3,
    RWKV_CPU_AVX512BW = 1 << 4,
    RWKV_CPU_AVX512VNNI = 1 << 5,
    RWKV_CPU_AVXVNNI = 1 << 6,
    RWKV_CPU_AVX512BF16 = 1 << 7,
    RWKV_CPU_AMX_TILE = 1 << 8,
    RWKV_CPU_AMX_BF16 = 1 << 9,
    RWKV_CPU_AMX_INT8 = 1 << 10,
};

/// The RWKV_CPU_* bits of this CPU (0 on other architectures).
unsigned rwkv_cpu_features(void);

/// Loads oneDNN (libdnnl.so.2) on first call; 1 when its int8 GEMM can be called, else 0.
/// Loaded at run time so that the build never depends on it: without it, int8 is unavailable.
int rwkv_onednn_available(void);

/// oneDNN's version ("2.6.3"), or NULL when it is not loaded.
const char *rwkv_onednn_version(void);

/// Symmetric per-row int8 quantization of a [rows][k] matrix: q = round(x / s), s = max|x| / qmax.
void rwkv_quantize_rows_int8(int rows, int k, const float *x, ptrdiff_t ldx, int qmax, int8_t *q, float *scale);

/// y[m][n] (+)= sum_k x[m][k] W[n][k] with W quantized per output channel (`w_scale[n]`, values in
/// [-qmax, qmax]) and x quantized per row at call time to [-127, 127], through oneDNN's s8s8s32 GEMM
/// (single-threaded: the caller splits the work). Returns 0 on success.
int rwkv_linear_int8(int m, int n, int k, const float *x, ptrdiff_t ldx, const int8_t *w, const float *w_scale,
                     float *y, ptrdiff_t ldy, int accumulate);

/// fp32 -> bf16 (round to nearest even; NaN stays NaN) and back.
void rwkv_bf16_from_f32(size_t count, const float *src, uint16_t *dst);
void rwkv_f32_from_bf16(size_t rows, size_t cols, const uint16_t *src, size_t src_stride, float *dst, size_t dst_stride);

/// A per-thread float buffer of at least `count` elements (reused across calls; NULL if out of memory).
float *rwkv_thread_scratch(size_t count);

#endif
