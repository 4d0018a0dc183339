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
typedef int (*sgemm_fn)(char, char, int64_t, int64_t, int64_t, float, const float *, int64_t, const float *, int64_t,
                        float, float *, int64_t);
static sgemm_fn onednn_sgemm;
static omp_set_threads_fn omp_set_threads;
static char onednn_version_text[32];

static void load_onednn_bf16(void *handle);

static void load_onednn(void) {
    void *handle = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!handle) handle = dlopen("libdnnl.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!handle) return;
    gemm_s8s8s32 = (gemm_s8s8s32_fn)dlsym(handle, "dnnl_gemm_s8s8s32");
    onednn_sgemm = (sgemm_fn)dlsym(handle, "dnnl_sgemm");
    load_onednn_bf16(handle);
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

/// The caller owns the parallelism: no OpenMP team per oneDNN call (the setting is per calling thread).
static void single_threaded(void) {
    if (!omp_single && omp_set_threads) {
        omp_set_threads(1);
        omp_single = 1;
    }
}

int rwkv_linear_int8(int m, int n, int k, const float *x, ptrdiff_t ldx, const int8_t *w, const float *w_scale,
                     float *y, ptrdiff_t ldy, int accumulate) {
    if (!rwkv_onednn_available()) return -1;
    if (m <= 0 || n <= 0) return 0;
    if (!grow((void **)&scratch_q, &scratch_q_size, (size_t)m * k) ||
        !grow((void **)&scratch_acc, &scratch_acc_size, (size_t)m * n * sizeof(int32_t)) ||
        !grow((void **)&scratch_scale, &scratch_scale_size, (size_t)m * sizeof(float)))
        return -2;
    single_threaded();
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

static __thread uint16_t *scratch_bf16;
static __thread size_t scratch_bf16_size;

uint16_t *rwkv_thread_scratch_bf16(size_t count) {
    return grow((void **)&scratch_bf16, &scratch_bf16_size, count * sizeof(uint16_t)) ? scratch_bf16 : NULL;
}

// MARK: bf16 through oneDNN's matmul primitive (oneDNN 2.x C API, bound at run time)

// The few oneDNN 2.x types and constants used (from dnnl_types.h 2.6; the 2.x ABI keeps them). The
// descriptors are plain structs in 2.x that only oneDNN reads: opaque, generously sized buffers here.
typedef int64_t dnnl_dims[12];
typedef struct { _Alignas(64) unsigned char bytes[1024]; } memory_desc;  // sizeof(dnnl_memory_desc_t) = 696
typedef struct { _Alignas(64) unsigned char bytes[4096]; } matmul_desc;  // sizeof(dnnl_matmul_desc_t) = 2800
typedef struct { int arg; void *memory; } exec_arg;
enum { DT_BF16 = 2, DT_F32 = 3, ENGINE_CPU = 1, ARG_SRC = 1, ARG_DST = 17, ARG_WEIGHTS = 33, ARG_SCRATCHPAD = 80,
       QUERY_IMPL_INFO_STR = 8, QUERY_SCRATCHPAD_MD = 136, SCRATCHPAD_MODE_USER = 1 };
#define RUNTIME_DIM INT64_MIN

static struct {
    int (*engine_create)(void **, int, size_t);
    int (*stream_create)(void **, void *, unsigned);
    int (*md_init_by_strides)(memory_desc *, int, const int64_t *, int, const int64_t *);
    int (*matmul_desc_init)(matmul_desc *, const memory_desc *, const memory_desc *, const memory_desc *, const memory_desc *);
    int (*pd_create)(void **, const void *, const void *, void *, const void *);
    int (*pd_query)(const void *, int, int, void *);
    const memory_desc *(*pd_query_md)(const void *, int, int);
    int (*pd_destroy)(void *);
    int (*primitive_create)(void **, const void *);
    int (*primitive_destroy)(void *);
    int (*primitive_execute)(const void *, void *, int, const exec_arg *);
    int (*stream_wait)(void *);
    int (*memory_create)(void **, const memory_desc *, void *, void *);
    int (*memory_destroy)(void *);
    size_t (*md_get_size)(const memory_desc *);
    int (*attr_create)(void **);
    int (*attr_destroy)(void *);
    int (*attr_set_scratchpad_mode)(void *, int);
    int (*attr_set_post_ops)(void *, const void *);
    int (*post_ops_create)(void **);
    int (*post_ops_destroy)(void *);
    int (*post_ops_append_sum)(void *, float);
} dnnl;
static void *bf16_engine;
static char bf16_impl[64];

static void load_onednn_bf16(void *handle) {
    // dnnl_matmul_desc_init exists only in oneDNN 2.x (3.x changed the C API): its absence disables this path.
    void **slots[] = {(void **)&dnnl.engine_create, (void **)&dnnl.stream_create, (void **)&dnnl.md_init_by_strides,
                      (void **)&dnnl.matmul_desc_init, (void **)&dnnl.pd_create, (void **)&dnnl.pd_query,
                      (void **)&dnnl.pd_query_md, (void **)&dnnl.pd_destroy, (void **)&dnnl.primitive_create, (void **)&dnnl.primitive_destroy,
                      (void **)&dnnl.primitive_execute, (void **)&dnnl.stream_wait, (void **)&dnnl.memory_create,
                      (void **)&dnnl.memory_destroy, (void **)&dnnl.md_get_size, (void **)&dnnl.attr_create,
                      (void **)&dnnl.attr_destroy, (void **)&dnnl.attr_set_scratchpad_mode,
                      (void **)&dnnl.attr_set_post_ops, (void **)&dnnl.post_ops_create, (void **)&dnnl.post_ops_destroy,
                      (void **)&dnnl.post_ops_append_sum};
    const char *names[] = {"dnnl_engine_create", "dnnl_stream_create", "dnnl_memory_desc_init_by_strides",
                           "dnnl_matmul_desc_init", "dnnl_primitive_desc_create", "dnnl_primitive_desc_query",
                           "dnnl_primitive_desc_query_md", "dnnl_primitive_desc_destroy", "dnnl_primitive_create", "dnnl_primitive_destroy",
                           "dnnl_primitive_execute", "dnnl_stream_wait", "dnnl_memory_create", "dnnl_memory_destroy",
                           "dnnl_memory_desc_get_size", "dnnl_primitive_attr_create", "dnnl_primitive_attr_destroy",
                           "dnnl_primitive_attr_set_scratchpad_mode", "dnnl_primitive_attr_set_post_ops",
                           "dnnl_post_ops_create", "dnnl_post_ops_destroy", "dnnl_post_ops_append_sum"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        *slots[i] = dlsym(handle, names[i]);
        if (!*slots[i]) return;
    }
    if (dnnl.engine_create(&bf16_engine, ENGINE_CPU, 0) != 0) bf16_engine = NULL;
}

/// A matmul primitive for y[M][n] (+)= x[M][k] W^T with M and y's row stride given at execution.
/// Runtime M means one primitive per (n, k, accumulate) rather than one per row count: oneDNN then picks
/// its bf16 `gemm:jit` kernel over plain [n][k] weights. Measured on Zen 5 (one thread): brgemm with a fixed
/// M (weights in its blocked layout) is 0.95-1.45x gemm:jit (most at M = 16 and k = 3072), but needs a
/// primitive (0.2-1 ms to create) per distinct row count, which varies with every document.
static void *bf16_primitive(int n, int k, int accumulate, size_t *scratch_bytes) {
    memory_desc src, wei, dst;
    int64_t sd[12] = {RUNTIME_DIM, k}, ss[12] = {k, 1};
    int64_t wd[12] = {k, n}, ws[12] = {1, k};
    int64_t dd[12] = {RUNTIME_DIM, n}, ds[12] = {RUNTIME_DIM, 1};
    if (dnnl.md_init_by_strides(&src, 2, sd, DT_BF16, ss) || dnnl.md_init_by_strides(&wei, 2, wd, DT_BF16, ws) ||
        dnnl.md_init_by_strides(&dst, 2, dd, DT_F32, ds))
        return NULL;
    matmul_desc desc;
    if (dnnl.matmul_desc_init(&desc, &src, &wei, NULL, &dst)) return NULL;
    void *attr = NULL, *ops = NULL, *pd = NULL, *primitive = NULL;
    if (dnnl.attr_create(&attr)) return NULL;
    dnnl.attr_set_scratchpad_mode(attr, SCRATCHPAD_MODE_USER);  // per-thread scratchpads: workers run at once
    if (accumulate && dnnl.post_ops_create(&ops) == 0) {
        dnnl.post_ops_append_sum(ops, 1.0f);
        dnnl.attr_set_post_ops(attr, ops);
    }
    if (dnnl.pd_create(&pd, &desc, attr, bf16_engine, NULL) == 0) {
        const char *impl = NULL;
        dnnl.pd_query(pd, QUERY_IMPL_INFO_STR, 0, &impl);
        // The reference implementation is a scalar loop: never faster than widening to fp32 for sgemm.
        if (impl && strncmp(impl, "ref", 3) != 0) {
            if (!bf16_impl[0]) snprintf(bf16_impl, sizeof bf16_impl, "%s", impl);
            *scratch_bytes = dnnl.md_get_size(dnnl.pd_query_md(pd, QUERY_SCRATCHPAD_MD, 0));
            if (dnnl.primitive_create(&primitive, pd)) primitive = NULL;
        }
        dnnl.pd_destroy(pd);
    }
    if (ops) dnnl.post_ops_destroy(ops);
    dnnl.attr_destroy(attr);
    return primitive;
}

static pthread_once_t bf16_once = PTHREAD_ONCE_INIT;
static int bf16_ready;

static void probe_bf16(void) {
    if (!rwkv_onednn_available() || !bf16_engine) return;
    size_t scratch = 0;
    bf16_ready = bf16_primitive(64, 64, 0, &scratch) != NULL;
}

int rwkv_onednn_bf16_available(void) {
    pthread_once(&bf16_once, probe_bf16);
    return bf16_ready;
}

const char *rwkv_onednn_bf16_kernel(void) { return rwkv_onednn_bf16_available() ? bf16_impl : NULL; }

/// Per-thread: a stream, a scratchpad and the primitives made so far (a model has a handful of shapes).
typedef struct { int n, k, accumulate; void *primitive; size_t scratch_bytes; } bf16_entry;
static __thread void *bf16_stream;
static __thread bf16_entry bf16_cache[16];
static __thread int bf16_cached;
static __thread unsigned char *bf16_scratchpad;
static __thread size_t bf16_scratchpad_size;

static int linear_bf16(int m, int n, int k, const uint16_t *x, const uint16_t *w, float *y, ptrdiff_t ldy, int accumulate);
static __thread uint16_t *pad_x;
static __thread size_t pad_x_size;
static __thread float *pad_y;
static __thread size_t pad_y_size;

int rwkv_linear_bf16(int m, int n, int k, const uint16_t *x, const uint16_t *w, float *y, ptrdiff_t ldy, int accumulate) {
    if (!rwkv_onednn_bf16_available()) return -1;
    if (m <= 0 || n <= 0) return 0;
    single_threaded();
    if (m > 1) return linear_bf16(m, n, k, x, w, y, ldy, accumulate);
    // One row takes a gemv-like kernel whose sums differ in the last bit from the same row in a larger call
    // (measured, oneDNN 2.6.3 gemm:jit: from 2 rows up a row's bits never depend on the row count): run it as
    // two rows (the second zero) so that a query alone rounds exactly as in a batch.
    if (!grow((void **)&pad_x, &pad_x_size, (size_t)2 * k * sizeof(uint16_t)) ||
        !grow((void **)&pad_y, &pad_y_size, (size_t)2 * n * sizeof(float)))
        return -2;
    memcpy(pad_x, x, (size_t)k * sizeof(uint16_t));
    memset(pad_x + k, 0, (size_t)k * sizeof(uint16_t));
    int status = linear_bf16(2, n, k, pad_x, w, pad_y, n, 0);
    if (status != 0) return status;
    if (accumulate) {
        for (int j = 0; j < n; j++) y[j] += pad_y[j];
    } else {
        memcpy(y, pad_y, (size_t)n * sizeof(float));
    }
    return 0;
}

static int linear_bf16(int m, int n, int k, const uint16_t *x, const uint16_t *w, float *y, ptrdiff_t ldy, int accumulate) {
    if (!bf16_stream && dnnl.stream_create(&bf16_stream, bf16_engine, 1 /* in order */)) return -3;
    bf16_entry *entry = NULL;
    for (int i = 0; i < bf16_cached; i++) {
        bf16_entry *e = &bf16_cache[i];
        if (e->n == n && e->k == k && e->accumulate == accumulate) { entry = e; break; }
    }
    if (!entry) {
        size_t scratch = 0;
        void *primitive = bf16_primitive(n, k, accumulate, &scratch);
        if (!primitive) return -4;
        // A model has at most four projection shapes (x2 for accumulate): 16 slots are plenty; past that, reuse one.
        entry = &bf16_cache[bf16_cached < 16 ? bf16_cached++ : (int)((unsigned)(n + k) % 16)];
        if (entry->primitive) dnnl.primitive_destroy(entry->primitive);
        *entry = (bf16_entry){n, k, accumulate, primitive, scratch};
    }
    if (!grow((void **)&bf16_scratchpad, &bf16_scratchpad_size, entry->scratch_bytes > 0 ? entry->scratch_bytes : 1))
        return -2;
    memory_desc src, wei, dst;
    int64_t sd[12] = {m, k}, ss[12] = {k, 1}, wd[12] = {k, n}, ws[12] = {1, k}, dd[12] = {m, n}, ds[12] = {ldy, 1};
    dnnl.md_init_by_strides(&src, 2, sd, DT_BF16, ss);
    dnnl.md_init_by_strides(&wei, 2, wd, DT_BF16, ws);
    dnnl.md_init_by_strides(&dst, 2, dd, DT_F32, ds);
    void *ms = NULL, *mw = NULL, *md = NULL;
    int status = dnnl.memory_create(&ms, &src, bf16_engine, (void *)x) || dnnl.memory_create(&mw, &wei, bf16_engine, (void *)w) ||
                 dnnl.memory_create(&md, &dst, bf16_engine, y);
    if (status == 0) {
        exec_arg args[4] = {{ARG_SRC, ms}, {ARG_WEIGHTS, mw}, {ARG_DST, md}, {ARG_SCRATCHPAD, NULL}};
        int nargs = 3;
        void *mp = NULL;
        if (entry->scratch_bytes > 0) {
            memory_desc pad;
            int64_t pd_[12] = {(int64_t)entry->scratch_bytes}, ps[12] = {1};
            // A u8 1-D buffer of the queried size (dnnl_u8 = 6).
            if (dnnl.md_init_by_strides(&pad, 1, pd_, 6, ps) == 0 &&
                dnnl.memory_create(&mp, &pad, bf16_engine, bf16_scratchpad) == 0) {
                args[3].memory = mp;
                nargs = 4;
            }
        }
        status = dnnl.primitive_execute(entry->primitive, bf16_stream, nargs, args);
        if (status == 0) status = dnnl.stream_wait(bf16_stream);
        if (mp) dnnl.memory_destroy(mp);
    }
    if (ms) dnnl.memory_destroy(ms);
    if (mw) dnnl.memory_destroy(mw);
    if (md) dnnl.memory_destroy(md);
    return status;
}

// MARK: row-invariant fp32 GEMM

// oneDNN's sgemm (jit, one thread) gives every row the same bits whatever the call's row count and the row's
// position from 16 rows up; below 16 rows it takes other kernels (measured with oneDNN 2.6.3 on Zen 5 for the
// LoRA and projection shapes: K, N in {32..3072}). OpenBLAS 0.3.21's sgemm changes a row's bits with its
// position in the call at any row count, so it cannot serve here.
enum { ROW_INVARIANT_MIN_ROWS = 16 };

static __thread float *pad_a, *pad_c;
static __thread size_t pad_a_size, pad_c_size;

int rwkv_sgemm_row_invariant(int m, int n, int k, const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                             int b_transposed, float *c, ptrdiff_t ldc) {
    if (!rwkv_onednn_available() || !onednn_sgemm) return -1;
    if (m <= 0 || n <= 0) return 0;
    single_threaded();
    char tb = b_transposed ? 'T' : 'N';
    if (m >= ROW_INVARIANT_MIN_ROWS) return onednn_sgemm('N', tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
    // Fewer rows take another kernel: pad with zero rows to the row count from which results stop changing.
    const int rows = ROW_INVARIANT_MIN_ROWS;
    if (!grow((void **)&pad_a, &pad_a_size, (size_t)rows * k * sizeof(float)) ||
        !grow((void **)&pad_c, &pad_c_size, (size_t)rows * n * sizeof(float)))
        return -2;
    for (int r = 0; r < m; r++) memcpy(pad_a + (size_t)r * k, a + r * lda, (size_t)k * sizeof(float));
    memset(pad_a + (size_t)m * k, 0, (size_t)(rows - m) * k * sizeof(float));
    int status = onednn_sgemm('N', tb, rows, n, k, 1.0f, pad_a, k, b, ldb, 0.0f, pad_c, n);
    if (status != 0) return status;
    for (int r = 0; r < m; r++) memcpy(c + r * ldc, pad_c + (size_t)r * n, (size_t)n * sizeof(float));
    return 0;
}
