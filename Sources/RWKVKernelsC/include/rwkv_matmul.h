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

/// c[m][n] = a[m][k] b (b [k][n], or [n][k] when `b_transposed`) through oneDNN's sgemm, padded to 16 rows
/// when there are fewer: every row's bits are then independent of the row count and the row's position, so
/// a text alone and in a batch feed the same bits to a later rounding (bf16 or int8 activations).
/// Returns 0 on success, -1 when oneDNN did not load.
int rwkv_sgemm_row_invariant(int m, int n, int k, const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                             int b_transposed, float *c, ptrdiff_t ldc);

/// fp32 -> bf16 (round to nearest even; NaN stays NaN) and back.
void rwkv_bf16_from_f32(size_t count, const float *src, uint16_t *dst);
void rwkv_f32_from_bf16(size_t rows, size_t cols, const uint16_t *src, size_t src_stride, float *dst, size_t dst_stride);

/// 1 when oneDNN (2.x) loaded and its bf16 matmul has a native kernel on this CPU (AVX512-BF16, AMX;
/// oneDNN 2.6 has none on AVX2-only CPUs), else 0.
int rwkv_onednn_bf16_available(void);

/// The oneDNN kernel the bf16 matmul runs ("gemm:jit"), or NULL.
const char *rwkv_onednn_bf16_kernel(void);

/// y[m][n] (+)= x[m][k] W^T, x and W ([n][k], row-major) in bf16, accumulated and stored in fp32, through
/// oneDNN's matmul (single-threaded: the caller splits the work). Returns 0 on success.
int rwkv_linear_bf16(int m, int n, int k, const uint16_t *x, const uint16_t *w, float *y, ptrdiff_t ldy, int accumulate);

/// A per-thread float buffer of at least `count` elements (reused across calls; NULL if out of memory).
float *rwkv_thread_scratch(size_t count);

/// A per-thread bf16 buffer of at least `count` elements (reused across calls; NULL if out of memory).
uint16_t *rwkv_thread_scratch_bf16(size_t count);

#endif
