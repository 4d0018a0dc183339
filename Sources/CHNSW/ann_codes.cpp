// The compressed-code kernels behind ann_codes.h (built without -m flags; SIMD bodies by target attribute).
#include "ann_codes.h"

namespace {

void int8_scalar(const int8_t *codes, size_t rows, size_t dim, const int8_t *q, int32_t *out) {
    for (size_t r = 0; r < rows; r++) {
        const int8_t *c = codes + r * dim;
        int32_t s = 0;
        for (size_t j = 0; j < dim; j++) s += int32_t(c[j]) * int32_t(q[j]);
        out[r] = s;
    }
}

void hamming_scalar(const uint64_t *bits, size_t rows, size_t words, const uint64_t *q, uint32_t *out) {
    for (size_t r = 0; r < rows; r++) {
        uint32_t d = 0;
        for (size_t w = 0; w < words; w++) {
            uint64_t x = bits[r * words + w] ^ q[w];
            x = x - ((x >> 1) & 0x5555555555555555ULL);
            x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
            x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
            d += uint32_t((x * 0x0101010101010101ULL) >> 56);
        }
        out[r] = d;
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
// |c| * sign(q, c) with maddubs: codes are in -127...127, so pairs stay within int16.
__attribute__((target("avx2"))) void int8_avx2(const int8_t *codes, size_t rows, size_t dim, const int8_t *q, int32_t *out) {
    const __m256i ones = _mm256_set1_epi16(1);
    for (size_t r = 0; r < rows; r++) {
        const int8_t *c = codes + r * dim;
        __m256i acc = _mm256_setzero_si256();
        size_t j = 0;
        for (; j + 32 <= dim; j += 32) {
            __m256i a = _mm256_loadu_si256((const __m256i *)(c + j));
            __m256i b = _mm256_loadu_si256((const __m256i *)(q + j));
            __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
        }
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
        s = _mm_hadd_epi32(s, s);
        s = _mm_hadd_epi32(s, s);
        int32_t total = _mm_cvtsi128_si32(s);
        for (; j < dim; j++) total += int32_t(c[j]) * int32_t(q[j]);
        out[r] = total;
    }
}

__attribute__((target("popcnt"))) void hamming_popcnt(const uint64_t *bits, size_t rows, size_t words, const uint64_t *q, uint32_t *out) {
    for (size_t r = 0; r < rows; r++) {
        const uint64_t *b = bits + r * words;
        uint64_t d = 0;
        for (size_t w = 0; w < words; w++) d += (uint64_t)_mm_popcnt_u64(b[w] ^ q[w]);
        out[r] = uint32_t(d);
    }
}
#endif

typedef void (*int8_fn)(const int8_t *, size_t, size_t, const int8_t *, int32_t *);
typedef void (*hamming_fn)(const uint64_t *, size_t, size_t, const uint64_t *, uint32_t *);

int8_fn pick_int8() {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) return int8_avx2;
#endif
    return int8_scalar;
}

hamming_fn pick_hamming() {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("popcnt")) return hamming_popcnt;
#endif
    return hamming_scalar;
}

const int8_fn kInt8 = pick_int8();
const hamming_fn kHamming = pick_hamming();

}  // namespace

extern "C" {

void ann_int8_dots(const int8_t *codes, size_t rows, size_t dim, const int8_t *query, int32_t *out) {
    kInt8(codes, rows, dim, query, out);
}

void ann_hamming(const uint64_t *bits, size_t rows, size_t words, const uint64_t *query, uint32_t *out) {
    kHamming(bits, rows, words, query, out);
}

const char *ann_codes_kernels(void) {
    if (kInt8 == int8_scalar) return kHamming == hamming_scalar ? "int8 scalar, hamming scalar" : "int8 scalar, hamming popcnt";
    return kHamming == hamming_scalar ? "int8 avx2, hamming scalar" : "int8 avx2, hamming popcnt";
}

}  // extern "C"
