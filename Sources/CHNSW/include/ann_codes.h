// Kernels for the compressed first pass of the dense stage: int8 codes (per-vector scale) and 1-bit
// codes (signs), scored against a query; the AVX2 / POPCNT bodies are picked at run time.
#ifndef ANN_CODES_H
#define ANN_CODES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// out[r] = sum_j codes[r*dim + j] * query[j] (exact int32 sums) for r in 0..<rows.
void ann_int8_dots(const int8_t *codes, size_t rows, size_t dim, const int8_t *query, int32_t *out);
/// out[r] = popcount(bits[r] xor query) over `words` 64-bit words per row (the Hamming distance).
void ann_hamming(const uint64_t *bits, size_t rows, size_t words, const uint64_t *query, uint32_t *out);
/// Which bodies run ("avx2"/"scalar", "popcnt"/"scalar").
const char *ann_codes_kernels(void);

#ifdef __cplusplus
}
#endif

#endif
