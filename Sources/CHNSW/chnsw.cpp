// The hnswlib wrapper behind chnsw.h. Built without -m flags: hnswlib's own SIMD paths are chosen at
// compile time, so the distance is ours, with an AVX2+FMA body picked at run time (cpuid).
#include "chnsw.h"

// Under AddressSanitizer, hnswlib's hand-written SSE paths are compiled out. Their prefetches read the
// link after the last one (`*(datal + j + 1)` in searchBaseLayer and repairConnectionsForUpdate), which
// for a full upper-level list is 4 bytes past its malloc'd block: hnswlib 0.6.2's upstream issue #578.
// On hardware the read stays inside the allocator's chunk and only feeds a prefetch hint, so release
// builds keep the prefetches; with them compiled out, ASan still checks the rest of the library.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_MANUAL_VECTORIZATION
#endif
#endif
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

namespace {

float dot_scalar(const float *a, const float *b, size_t n) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2,fma"))) float dot_avx2(const float *a, const float *b, size_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    acc0 = _mm256_add_ps(acc0, acc1);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc0), _mm256_extractf128_ps(acc0, 1));
    s = _mm_hadd_ps(s, s);
    s = _mm_hadd_ps(s, s);
    float out = _mm_cvtss_f32(s);
    for (; i < n; i++) out += a[i] * b[i];
    return out;
}
bool have_avx2() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

typedef float (*dot_fn)(const float *, const float *, size_t);

dot_fn pick_dot() {
#if defined(__x86_64__)
    if (have_avx2()) return dot_avx2;
#endif
    return dot_scalar;
}

const dot_fn kDot = pick_dot();

float ip_distance(const void *a, const void *b, const void *param) {
    size_t n = *static_cast<const size_t *>(param);
    return 1.0f - kDot(static_cast<const float *>(a), static_cast<const float *>(b), n);
}

class IPSpace : public hnswlib::SpaceInterface<float> {
  public:
    explicit IPSpace(size_t dim) : dim_(dim) {}
    size_t get_data_size() override { return dim_ * sizeof(float); }
    hnswlib::DISTFUNC<float> get_dist_func() override { return ip_distance; }
    void *get_dist_func_param() override { return &dim_; }
  private:
    size_t dim_;
};

void set_error(char *error, size_t size, const char *message) {
    if (error && size) snprintf(error, size, "%s", message);
}

}  // namespace

struct chnsw_index {
    size_t dimension;
    IPSpace space;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
    mutable std::shared_mutex lock;
    explicit chnsw_index(size_t dim) : dimension(dim), space(dim) {}
};

extern "C" {

chnsw_index *chnsw_create(size_t dimension, size_t capacity, size_t m, size_t ef_construction, size_t seed,
                          char *error, size_t error_size) {
    try {
        auto index = std::make_unique<chnsw_index>(dimension);
        index->graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(&index->space, std::max<size_t>(capacity, 16), m,
                                                                          ef_construction, seed);
        return index.release();
    } catch (const std::exception &e) {
        set_error(error, error_size, e.what());
        return nullptr;
    }
}

chnsw_index *chnsw_load(const char *path, size_t dimension, char *error, size_t error_size) {
    try {
        auto index = std::make_unique<chnsw_index>(dimension);
        index->graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(&index->space, std::string(path));
        return index.release();
    } catch (const std::exception &e) {
        set_error(error, error_size, e.what());
        return nullptr;
    }
}

int chnsw_save(chnsw_index *index, const char *path, char *error, size_t error_size) {
    try {
        std::unique_lock<std::shared_mutex> guard(index->lock);
        index->graph->saveIndex(std::string(path));
        return 0;
    } catch (const std::exception &e) {
        set_error(error, error_size, e.what());
        return 1;
    }
}

void chnsw_free(chnsw_index *index) { delete index; }

int chnsw_add(chnsw_index *index, const float *vectors, const uint64_t *labels, size_t count, size_t threads,
              char *error, size_t error_size) {
    try {
        std::unique_lock<std::shared_mutex> guard(index->lock);
        auto &g = *index->graph;
        size_t need = g.cur_element_count + count;
        if (need > g.max_elements_) g.resizeIndex(std::max(need, g.max_elements_ * 2));
        size_t workers = std::max<size_t>(1, std::min(threads, count / 64 + 1));
        std::atomic<size_t> next(0);
        std::exception_ptr failure;
        std::mutex failure_lock;
        auto work = [&]() {
            try {
                for (size_t i = next++; i < count; i = next++) g.addPoint(vectors + i * index->dimension, (size_t)labels[i]);
            } catch (...) {
                std::lock_guard<std::mutex> l(failure_lock);
                failure = std::current_exception();
            }
        };
        std::vector<std::thread> pool;
        for (size_t w = 1; w < workers; w++) pool.emplace_back(work);
        work();
        for (auto &t : pool) t.join();
        if (failure) std::rethrow_exception(failure);
        return 0;
    } catch (const std::exception &e) {
        set_error(error, error_size, e.what());
        return 1;
    }
}

int chnsw_mark_deleted(chnsw_index *index, uint64_t label) {
    try {
        std::unique_lock<std::shared_mutex> guard(index->lock);
        index->graph->markDelete((size_t)label);
        return 0;
    } catch (const std::exception &) {
        return 1;
    }
}

size_t chnsw_count(const chnsw_index *index) {
    std::shared_lock<std::shared_mutex> guard(index->lock);
    return index->graph->cur_element_count;
}

size_t chnsw_deleted_count(const chnsw_index *index) {
    std::shared_lock<std::shared_mutex> guard(index->lock);
    return index->graph->num_deleted_;
}

size_t chnsw_live_labels(const chnsw_index *index, uint64_t *out, size_t capacity) {
    std::shared_lock<std::shared_mutex> guard(index->lock);
    auto &g = *index->graph;
    size_t n = 0;
    for (const auto &entry : g.label_lookup_) {
        if (g.isMarkedDeleted(entry.second)) continue;
        if (n < capacity) out[n] = entry.first;
        n++;
    }
    return n;
}

size_t chnsw_m(const chnsw_index *index) { return index->graph->M_; }
size_t chnsw_ef_construction(const chnsw_index *index) { return index->graph->ef_construction_; }

size_t chnsw_memory_bytes(const chnsw_index *index) {
    std::shared_lock<std::shared_mutex> guard(index->lock);
    auto &g = *index->graph;
    size_t bytes = g.max_elements_ * g.size_data_per_element_;
    for (size_t i = 0; i < g.cur_element_count; i++)
        if (g.element_levels_[i] > 0) bytes += g.size_links_per_element_ * g.element_levels_[i];
    bytes += g.label_lookup_.size() * 32 + g.max_elements_ * (sizeof(void *) + sizeof(int) + sizeof(std::mutex));
    return bytes;
}

size_t chnsw_search(chnsw_index *index, const float *query, size_t k, size_t ef, uint64_t *labels, float *scores) {
    try {
        std::shared_lock<std::shared_mutex> shared(index->lock, std::defer_lock);
        std::unique_lock<std::shared_mutex> exclusive(index->lock, std::defer_lock);
        // hnswlib keeps one search width per index: a query with another width changes it alone.
        shared.lock();
        if (index->graph->ef_ != ef) {
            shared.unlock();
            exclusive.lock();
            index->graph->setEf(ef);
        }
        auto found = index->graph->searchKnn(query, k);
        size_t n = found.size();
        for (size_t i = n; i-- > 0;) {
            labels[i] = found.top().second;
            scores[i] = 1.0f - found.top().first;
            found.pop();
        }
        return n;
    } catch (const std::exception &) {
        return 0;
    }
}

const char *chnsw_kernel(void) { return kDot == dot_scalar ? "scalar" : "avx2+fma"; }

}  // extern "C"
