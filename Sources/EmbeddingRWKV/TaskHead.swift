import RWKVCheckpoint
import RWKVKernels

/// A task head: LayerNorm(fc2(relu(fc1 x)) + x), LayerNorm eps 1e-5, no biases in the linears.
struct TaskHead: Sendable {
    let fc1, fc2: WeightBuffer
    let hidden: Int
    let normWeight, normBias: WeightBuffer

    init(_ w: TaskHeadWeights) {
        fc1 = WeightBuffer(w.fc1)
        fc2 = WeightBuffer(w.fc2)
        hidden = w.fc1.shape[0]
        normWeight = WeightBuffer(w.norm.weight)
        normBias = WeightBuffer(w.norm.bias)
    }

    /// Applies the head to `rows` pooled vectors of width `width` (row-major).
    func apply(_ pooled: [Float], rows: Int, width: Int) -> [Float] {
        var h = [Float](repeating: 0, count: rows * hidden)
        var out = pooled  // fc2 accumulates onto the residual
        pooled.withUnsafeBufferPointer { x in
            h.withUnsafeMutableBufferPointer { hp in
                parallelSgemm(m: rows, n: hidden, k: width, a: x.baseAddress!, lda: width, b: fc1.p, ldb: width,
                      bTransposed: true, c: hp.baseAddress!, ldc: hidden)
                for i in 0..<hp.count where hp[i] < 0 { hp[i] = 0 }
            }
        }
        h.withUnsafeBufferPointer { hp in
            out.withUnsafeMutableBufferPointer { o in
                parallelSgemm(m: rows, n: width, k: hidden, a: hp.baseAddress!, lda: hidden, b: fc2.p, ldb: hidden,
                      bTransposed: true, c: o.baseAddress!, ldc: width, beta: 1)
                layerNorm(rows: rows, width: width, x: o.baseAddress!, ldx: width, weight: normWeight.p,
                          bias: normBias.p, eps: 1e-5, out: o.baseAddress!, ldo: width)
            }
        }
        return out
    }
}
