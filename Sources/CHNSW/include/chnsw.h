// A small C interface to hnswlib (Debian's libhnswlib-dev 0.6.2, header-only) for Swift: an HNSW graph
// over inner-product distance (1 - <a, b>) of L2-normalised float vectors, labelled by 64-bit ids.
// Thread-safety: searches run concurrently with each other; add, mark-deleted, resize and save take the
// index exclusively. Every function that can fail returns 0 on success and writes a message to `error`.
#ifndef CHNSW_H
#define CHNSW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chnsw_index chnsw_index;

/// A new empty index (capacity grows as needed).
chnsw_index *chnsw_create(size_t dimension, size_t capacity, size_t m, size_t ef_construction, size_t seed,
                          char *error, size_t error_size);
/// Loads an index saved by chnsw_save (NULL with a message when the file cannot be read or does not match).
chnsw_index *chnsw_load(const char *path, size_t dimension, char *error, size_t error_size);
/// Writes the index to `path` (the caller renames/fsyncs it into place).
int chnsw_save(chnsw_index *index, const char *path, char *error, size_t error_size);
void chnsw_free(chnsw_index *index);

/// Adds `count` vectors (row-major, `dimension` floats each) with their labels, on `threads` threads.
int chnsw_add(chnsw_index *index, const float *vectors, const uint64_t *labels, size_t count, size_t threads,
              char *error, size_t error_size);
/// Marks a label deleted (searches skip it). Returns 0, or 1 when the label is absent or already deleted.
int chnsw_mark_deleted(chnsw_index *index, uint64_t label);

/// Elements stored (deleted ones included), and those marked deleted.
size_t chnsw_count(const chnsw_index *index);
size_t chnsw_deleted_count(const chnsw_index *index);
/// The labels not marked deleted, written to `out` (at most `capacity`); returns how many there are.
size_t chnsw_live_labels(const chnsw_index *index, uint64_t *out, size_t capacity);
size_t chnsw_m(const chnsw_index *index);
size_t chnsw_ef_construction(const chnsw_index *index);
/// Bytes the index holds in memory (vectors, graph links, label map), estimated from its sizes.
size_t chnsw_memory_bytes(const chnsw_index *index);

/// The `k` nearest labels to `query` with search width `ef` (at least k), best first; `scores` are the
/// inner products. Returns the number found (fewer than k when the index holds fewer live elements).
size_t chnsw_search(chnsw_index *index, const float *query, size_t k, size_t ef, uint64_t *labels, float *scores);

/// Which distance kernel runs ("avx2+fma" or "scalar"), picked at run time.
const char *chnsw_kernel(void);

#ifdef __cplusplus
}
#endif

#endif
