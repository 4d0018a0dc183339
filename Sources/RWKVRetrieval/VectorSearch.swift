import RWKVKernels

/// Exact inner-product search over a row-major matrix of L2-normalised embeddings (cosine similarity):
/// one BLAS matrix-vector product over the (memory-mapped) matrix, then a partial selection.
public enum VectorSearch {
    /// scores[r] = <matrix row r, query> for rows 0..<rows: one sgemv per worker over contiguous row ranges
    /// (the engine runs OpenBLAS single-threaded; `workers` defaults to the cores for matrices of 4096+ rows).
    public static func scores(matrix: UnsafePointer<Float>, rows: Int, dimension: Int, query: [Float],
                              workers: Int? = nil) -> [Float] {
        precondition(query.count == dimension)
        guard rows > 0 else { return [] }
        KernelThreads.useSingleThreadedBLAS()
        let parts = max(1, min(workers ?? (rows >= 4096 ? KernelThreads.coreCount : 1), rows))
        var out = [Float](repeating: 0, count: rows)
        query.withUnsafeBufferPointer { q in
            out.withUnsafeMutableBufferPointer { y in
                let x = q.baseAddress!, yp = y.baseAddress!
                KernelThreads.parallel(parts) { w in
                    let r = KernelThreads.range(w, of: parts, total: rows)
                    guard !r.isEmpty else { return }
                    sgemv(m: r.count, n: dimension, a: matrix + r.lowerBound * dimension, lda: dimension, x: x,
                          y: yp + r.lowerBound)
                }
            }
        }
        return out
    }

    /// Indices of the `k` largest scores among rows where `include` is true (descending; ties by index).
    public static func topK(_ scores: [Float], k: Int, include: (Int) -> Bool = { _ in true }) -> [(row: Int, score: Float)] {
        guard k > 0 else { return [] }
        // A min-heap of the best k seen so far.
        var heap: [(row: Int, score: Float)] = []
        heap.reserveCapacity(k)
        func worse(_ a: (row: Int, score: Float), _ b: (row: Int, score: Float)) -> Bool {
            a.score < b.score || (a.score == b.score && a.row > b.row)
        }
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && worse(heap[l], heap[m]) { m = l }
                if r < heap.count && worse(heap[r], heap[m]) { m = r }
                if m == i { return }
                heap.swapAt(i, m)
                i = m
            }
        }
        for (row, s) in scores.enumerated() where include(row) {
            let item = (row: row, score: s)
            if heap.count < k {
                heap.append(item)
                var i = heap.count - 1
                while i > 0 {
                    let p = (i - 1) / 2
                    guard worse(heap[i], heap[p]) else { break }
                    heap.swapAt(i, p)
                    i = p
                }
            } else if worse(heap[0], item) {
                heap[0] = item
                siftDown(0)
            }
        }
        return heap.sorted { worse($1, $0) }
    }
}
