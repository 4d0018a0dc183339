#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// C[m, n] = alpha * A[m, k] * op(B) + beta * C, row-major fp32.
/// `bTransposed`: B is stored [n, k] (PyTorch's nn.Linear layout) instead of [k, n].
@inline(__always)
public func sgemm(
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
