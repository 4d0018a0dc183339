#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// y[m] = alpha * A[m, n] x[n] + beta * y, A row-major fp32 (e.g. one query against a matrix of embeddings).
@inline(__always)
package func sgemv(
    m: Int, n: Int, a: UnsafePointer<Float>, lda: Int, x: UnsafePointer<Float>,
    y: UnsafeMutablePointer<Float>, alpha: Float = 1, beta: Float = 0
) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(m), Int32(n), alpha, a, Int32(lda), x, 1, beta, y, 1)
}
