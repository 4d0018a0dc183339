import RWKVKernels

/// Scratch buffers for forward passes, reused across calls (grown on demand, never shrunk).
/// Not thread-safe: use one workspace per thread (or per in-flight request).
public final class Workspace {
    /// Rows (tokens across all sequences) processed per step; longer inputs are run in steps,
    /// carrying the state, which bounds activation memory at about `maxRows * 20 * C` floats.
    public let maxRows: Int

    private(set) var width = 0
    private(set) var lerpRegion = 0
    private(set) var rank = 0
    /// Each buffer is [maxRows, C] unless noted.
    private(set) var x = Buffer(), xn = Buffer(), r = Buffer(), k = Buffer(), v = Buffer()
    private(set) var w = Buffer(), a = Buffer(), g = Buffer(), kk = Buffer(), vFirst = Buffer()
    /// Six interpolated inputs [6][maxRows][C]; the recurrence output reuses the first, the value
    /// gate the second, and the channel-mix hidden layer [maxRows][ffn] starts at the second.
    private(set) var lerp = Buffer()
    /// LoRA inner activations [maxRows, rank].
    private(set) var lora = Buffer()
    /// Zero state (shift and WKV) for sequences that start from nothing.
    private(set) var zeros = Buffer()
    /// Per-worker WKV output for recurrences whose new state is not kept (the reranker).
    private(set) var discard = Buffer()

    public init(maxRows: Int = 2048) {
        precondition(maxRows > 0)
        self.maxRows = maxRows
    }

    /// Makes room for a stack of the given shape.
    func prepare(width c: Int, feedForward: Int, rank maxRank: Int) {
        if c > width {
            width = c
            for keyPath in [\Workspace.x, \.xn, \.r, \.k, \.v, \.w, \.a, \.g, \.kk, \.vFirst] as [ReferenceWritableKeyPath<Workspace, Buffer>] {
                self[keyPath: keyPath] = Buffer(count: maxRows * c)
            }
            zeros = Buffer(count: RWKVState.layerStride(embeddingSize: c))
            discard = Buffer(count: KernelThreads.coreCount * 64 * 64)
        }
        let region = max(6 * width, width + feedForward)
        if region > lerpRegion {
            lerpRegion = region
            lerp = Buffer(count: maxRows * region)
        }
        if maxRank > rank {
            rank = maxRank
            lora = Buffer(count: maxRows * maxRank)
        }
    }

    /// The m-th interpolated input.
    @inline(__always) func lerp(_ m: Int) -> UnsafeMutablePointer<Float> { lerp.p + m * maxRows * width }
    @inline(__always) var hidden: UnsafeMutablePointer<Float> { lerp.p + maxRows * width }

    /// A zero-initialised float buffer.
    final class Buffer {
        let p: UnsafeMutablePointer<Float>
        let count: Int
        init(count: Int = 0) {
            self.count = count
            p = .allocate(capacity: max(count, 1))
            p.initialize(repeating: 0, count: max(count, 1))
        }
        deinit { p.deallocate() }
    }
}
