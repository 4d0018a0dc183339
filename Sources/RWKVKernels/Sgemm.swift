#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif
import RWKVKernelsC

/// C[m, n] = alpha * A[m, k] * op(B) + beta * C, row-major fp32.
/// `bTransposed`: B is stored [n, k] (PyTorch's nn.Linear layout) instead of [k, n].
@inline(__always)
package func sgemm(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int, bTransposed: Bool,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    alpha: Float = 1, beta: Float = 0
) {
    cblas_sgemm(
        CblasRowMajor, CblasNoTrans, bTransposed ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// c = a b (alpha 1, beta 0) with every row's bits independent of `m` and of the row's position: oneDNN's
/// sgemm, padded to 16 rows when there are fewer (`rwkv_sgemm_row_invariant`). The engine uses it for the
/// fp32 products that feed a rounding of activations (bf16, int8), where a last-bit difference between a
/// text alone and in a batch would otherwise become a whole rounding step. OpenBLAS's sgemm where oneDNN
/// did not load (then bf16 and int8 activations are not in use either).
package func rowInvariantSgemm(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int, bTransposed: Bool,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    if rwkv_sgemm_row_invariant(Int32(m), Int32(n), Int32(k), a, lda, b, ldb, bTransposed ? 1 : 0, c, ldc) != 0 {
        sgemm(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, bTransposed: bTransposed, c: c, ldc: ldc)
    }
}

/// sgemm split over `KernelThreads` workers (rows of C when there are many, else columns), each part
/// run by single-threaded BLAS. Used with OpenBLAS threads set to 1, so that no BLAS thread spins
/// between GEMMs while the engine's own workers run the recurrence and element-wise passes.
package func parallelSgemm(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int, bTransposed: Bool,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    alpha: Float = 1, beta: Float = 0
) {
    let workers = KernelThreads.coreCount
    if !KernelThreads.splitsGEMMs || 2 * m * n * k < 4_000_000 {
        sgemm(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, bTransposed: bTransposed, c: c, ldc: ldc, alpha: alpha, beta: beta)
        return
    }
    if m >= 64 * workers {
        // Rows: each worker packs the whole weight once, activations are not duplicated.
        KernelThreads.parallel(workers) { w in
            let r = KernelThreads.range(w, of: workers, total: m)
            sgemm(m: r.count, n: n, k: k, a: a + r.lowerBound * lda, lda: lda, b: b, ldb: ldb, bTransposed: bTransposed,
                  c: c + r.lowerBound * ldc, ldc: ldc, alpha: alpha, beta: beta)
        }
    } else {
        // Columns (multiples of 16 for aligned tiles).
        KernelThreads.parallel(workers) { w in
            let lo = (n * w / workers) & ~15, hi = w == workers - 1 ? n : (n * (w + 1) / workers) & ~15
            guard hi > lo else { return }
            let bPart = bTransposed ? b + lo * ldb : b + lo
            sgemm(m: m, n: hi - lo, k: k, a: a, lda: lda, b: bPart, ldb: ldb, bTransposed: bTransposed,
                  c: c + lo, ldc: ldc, alpha: alpha, beta: beta)
        }
    }
}
