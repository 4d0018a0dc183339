import RWKVCheckpoint
import RWKVKernels

/// An EmbeddingRWKV model ready to run: RWKV-7 blocks, the embedding table with block 0's ln0 folded in,
/// ln_out and the three task heads. Immutable and thread-safe; give each thread its own `Workspace`.
public struct RWKVModel: Sendable {
    public let architecture: ModelArchitecture
    /// [vocabularySize, C], LayerNorm(ln0) already applied to every row.
    let embedding: [Float]
    let stack: BlockStack
    let lnOutWeight, lnOutBias: WeightBuffer
    let heads: [EmbeddingTask: TaskHead]
    /// The precision the block projections run in (resolved: never `auto`).
    public let precision: WeightPrecision

    /// EOS (the pooling positions) of the world vocabulary.
    public static let eos = 65535

    public var layerCount: Int { architecture.layerCount }
    public var width: Int { architecture.embeddingSize }

    /// Transforms checkpoint weights into the engine's layout. The embedding table is normalised in place
    /// (no second copy when `weights` is not used afterwards); block weights are converted block by block
    /// into engine buffers, the projections into `precision` (resolved against `kernels`: a precision this
    /// machine cannot run becomes fp32; `WeightPrecision.resolve` says why).
    public init(_ weights: consuming EmbeddingModelWeights, precision requested: WeightPrecision = .fp32) {
        self.init(weights, precision: requested, kernels: nil)
    }

    /// As `init(_:precision:)`, resolved against `kernels` (the tests pretend to be other machines).
    package init(_ weights: consuming EmbeddingModelWeights, precision requested: WeightPrecision, kernels: MatrixKernels?) {
        let kernels = kernels ?? (requested == .fp32 ? MatrixKernels(cpu: .current, oneDNN: nil) : .current)
        var w = consume weights
        let resolved = requested == .fp32 ? .fp32 : requested.resolve(on: kernels).precision
        precision = resolved
        let int8Range = LinearWeight.int8Range(for: kernels.cpu)
        architecture = w.architecture
        let c = w.architecture.embeddingSize
        precondition(c % 64 == 0, "the engine needs C to be a multiple of the head size 64")
        var table = w.embedding.values
        w.embedding.values = []
        if let ln0 = w.blocks.first?.ln0 {
            let rows = table.count / c
            table.withUnsafeMutableBufferPointer { t in
                ln0.weight.withUnsafeBufferPointer { lw in
                    ln0.bias.withUnsafeBufferPointer { lb in
                        let base = t.baseAddress!, weight = lw.baseAddress!, bias = lb.baseAddress!
                        forRows(rows, minimumPerWorker: 1024) { range in
                            layerNorm(rows: range.count, width: c, x: base + range.lowerBound * c, ldx: c, weight: weight,
                                      bias: bias, eps: 1e-5, out: base + range.lowerBound * c, ldo: c)
                        }
                    }
                }
            }
        }
        embedding = table
        // Convert block by block, releasing each source block (when unshared) as soon as it is copied.
        var source = w.blocks
        w.blocks = []
        source.reverse()
        var blocks: [Block] = []
        while let b = source.popLast() { blocks.append(Block(b, isFirst: blocks.isEmpty, format: resolved.format, int8Range: int8Range,
                                                 nativeBF16: kernels.hasBF16GEMM)) }
        stack = BlockStack(blocks: blocks, width: c)
        lnOutWeight = WeightBuffer(w.lnOut.weight)
        lnOutBias = WeightBuffer(w.lnOut.bias)
        heads = [.retrieval: TaskHead(w.retrievalHead), .similarity: TaskHead(w.similarityHead),
                 .classification: TaskHead(w.classificationHead)]
    }

    /// The zero state of the first `layers` layers (all by default).
    public func zeroState(layers: Int? = nil) -> RWKVState {
        RWKVState(layerCount: layers ?? layerCount, embeddingSize: width)
    }

    /// Bytes held by the blocks' projections (the weights `precision` applies to).
    public var matrixBytes: Int { stack.blocks.reduce(0) { $0 + $1.projectionBytes } }

    public func makeWorkspace(maxRows: Int = 2048) -> Workspace { Workspace(maxRows: maxRows) }
}
