import Foundation
import RWKVCheckpoint
import RWKVKernels

/// The state-based reranker network: RWKV-7 blocks fed one learned token (T = 1, token shift from zero),
/// where block j's WKV recurrence starts from the embedding model's WKV state of layer `layerIndices[j]`;
/// then ln_out, Linear + bias, tanh, Linear -> one logit per state.
public struct RerankerNetwork: Sendable {
    public let architecture: ModelArchitecture
    /// Embedding-model layer read by each reranker block.
    public let layerIndices: [Int]
    /// The learned token after block 0's ln0 (the same for every document).
    let token: [Float]
    let stack: BlockStack
    let lnOutWeight, lnOutBias: WeightBuffer
    let hiddenWeight, hiddenBias, scoreWeight: WeightBuffer

    /// Embedding-model layers a state must have for this reranker: 0...max(layerIndices).
    public var requiredLayers: Int { (layerIndices.max() ?? -1) + 1 }
    public var width: Int { architecture.embeddingSize }

    /// The precision the blocks' projections run in (resolved: never `auto`); the score head stays fp32.
    public let precision: WeightPrecision

    /// `precision` as for `RWKVModel.init` (pass the model's `precision` to compute both alike).
    public init(_ weights: consuming RerankerWeights, precision requested: WeightPrecision = .fp32) throws(RWKVError) {
        try self.init(weights, precision: requested, kernels: nil)
    }

    /// As `init(_:precision:)`, resolved against `kernels` (the tests pretend to be other machines).
    package init(_ weights: consuming RerankerWeights, precision requested: WeightPrecision, kernels: MatrixKernels?) throws(RWKVError) {
        let kernels = kernels ?? (requested == .fp32 ? MatrixKernels(cpu: .current, oneDNN: nil) : .current)
        let w = weights
        let resolved = requested == .fp32 ? .fp32 : requested.resolve(on: kernels).precision
        precision = resolved
        let int8Range = LinearWeight.int8Range(for: kernels.cpu)
        let c = w.architecture.embeddingSize
        guard c % 64 == 0, !w.blocks.isEmpty, w.layerIndices.count == w.blocks.count,
              w.layerIndices.allSatisfy({ $0 >= 0 }) else {
            throw .incompatibleReranker("\(w.blocks.count) blocks, layer indices \(w.layerIndices), width \(c)")
        }
        architecture = w.architecture
        layerIndices = w.layerIndices
        var t = w.token
        if let ln0 = w.blocks[0].ln0 {
            t.withUnsafeMutableBufferPointer { tp in
                layerNormRow(width: c, x: tp.baseAddress!, weight: ln0.weight, bias: ln0.bias, eps: 1e-5, out: tp.baseAddress!)
            }
        }
        token = t
        stack = BlockStack(blocks: w.blocks.enumerated().map {
            Block($1, isFirst: $0 == 0, format: resolved.format, int8Range: int8Range, nativeBF16: kernels.hasBF16GEMM)
        }, width: c)
        lnOutWeight = WeightBuffer(w.lnOut.weight)
        lnOutBias = WeightBuffer(w.lnOut.bias)
        hiddenWeight = WeightBuffer(w.hiddenWeight)
        hiddenBias = WeightBuffer(w.hiddenBias)
        scoreWeight = WeightBuffer(w.scoreWeight)
    }

    /// Checks that this reranker can read states of `model`.
    public func check(pairedWith model: RWKVModel) throws(RWKVError) {
        guard model.width == width else { throw .incompatibleReranker("width \(width), embedding model \(model.width)") }
        guard requiredLayers <= model.layerCount else {
            throw .incompatibleReranker("reads layer \(requiredLayers - 1), the model has \(model.layerCount)")
        }
    }

    /// One logit per state (states need at least `requiredLayers` layers; their token shift is not used).
    public func logits(_ states: [RWKVState], workspace: Workspace? = nil) throws(RWKVError) -> [Float] {
        for s in states {
            guard s.embeddingSize == width, s.layerCount >= requiredLayers else {
                throw .stateMismatch("reranker needs \(requiredLayers) layers of width \(width); state has \(s.layerCount) of \(s.embeddingSize)")
            }
        }
        let ws = workspace ?? Workspace(maxRows: max(1, min(states.count, 256)))
        let c = width
        var result: [Float] = []
        result.reserveCapacity(states.count)
        var start = 0
        while start < states.count {
            let batch = Array(states[start..<min(states.count, start + ws.maxRows)])
            ws.prepare(width: c, feedForward: stack.feedForward, rank: stack.maxRank)
            let step = batch.enumerated().map { i, s in
                StepSequence(rows: i..<i + 1, shiftIn: nil, shiftOut: nil, wkvIn: UnsafePointer(s.storage.pointer), wkvOut: nil)
            }
            token.withUnsafeBufferPointer { t in
                for i in 0..<batch.count { (ws.x.p + i * c).update(from: t.baseAddress!, count: c) }
            }
            withExtendedLifetime(batch) {
                stack.run(step, rowCount: batch.count, blockCount: stack.blocks.count, wkvInputLayer: layerIndices, ws: ws)
            }
            result += score(rows: batch.count, ws: ws)
            start += batch.count
        }
        return result
    }

    /// ln_out -> Linear(C, C) + bias -> tanh -> Linear(C, 1) for each row of ws.x.
    private func score(rows: Int, ws: Workspace) -> [Float] {
        let c = width, xn = ws.xn.p, h = ws.r.p
        layerNorm(rows: rows, width: c, x: ws.x.p, ldx: c, weight: lnOutWeight.p, bias: lnOutBias.p, eps: 1e-5, out: xn, ldo: c)
        for i in 0..<rows { (h + i * c).update(from: hiddenBias.p, count: c) }
        parallelSgemm(m: rows, n: c, k: c, a: xn, lda: c, b: hiddenWeight.p, ldb: c, bTransposed: true, c: h, ldc: c, beta: 1)
        applyTanh(h, count: rows * c)
        return (0..<rows).map { i in
            var s: Float = 0
            for j in 0..<c { s += h[i * c + j] * scoreWeight.p[j] }
            return s
        }
    }
}

/// A reranker result: the raw logit and its sigmoid.
public struct RerankScore: Sendable, Equatable, Codable {
    public var logit: Float
    public var score: Float

    public init(logit: Float) {
        self.logit = logit
        score = Float(1 / (1 + Foundation.exp(-Double(logit))))
    }
}

