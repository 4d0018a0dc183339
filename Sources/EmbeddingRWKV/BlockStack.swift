import RWKVKernels

/// One sequence's part of a forward step: its rows in the workspace and the states it reads and writes.
/// Pointers are state bases in `RWKVState`'s layout (layer blocks `[shift 2C | wkv]`); nil input means
/// the zero state, nil output means the new state is not kept.
struct StepSequence {
    var rows: Range<Int>
    var shiftIn: UnsafePointer<Float>?
    var shiftOut: UnsafeMutablePointer<Float>?
    var wkvIn: UnsafePointer<Float>?
    var wkvOut: UnsafeMutablePointer<Float>?
}

/// A stack of RWKV-7 blocks and the code that runs a step (many sequences' tokens as the rows of one
/// matrix) through them: projections as whole-step GEMMs, the recurrence per (sequence, head).
struct BlockStack: Sendable {
    let blocks: [Block]
    let width: Int
    let feedForward: Int
    let maxRank: Int
    /// Whether the LoRAs run on `rowInvariantSgemm`: yes where the projections round their activations (int8,
    /// native bf16). Measured before (tiny-bf16 / small-fp16, max |difference|): a text alone vs in a batch
    /// 3.1e-3 / 6.0e-3 bf16 and 1.1e-2 / 2.7e-2 int8; offline vs online logits 2.7e-4 / 1.6e-3 bf16,
    /// 7.4e-3 / 2.3e-3 int8, because OpenBLAS's LoRA rows change bits with the batch's shape.
    let rowInvariantLoRAs: Bool
    var headCount: Int { width / 64 }
    var layerStride: Int { RWKVState.layerStride(embeddingSize: width) }

    init(blocks: [Block], width: Int) {
        self.blocks = blocks
        self.width = width
        feedForward = blocks.map(\.channelMix.hiddenSize).max() ?? 4 * width
        maxRank = blocks.map(\.maxRank).max() ?? 0
        rowInvariantLoRAs = blocks.contains { $0.timeMix.receptance.roundsActivations }
    }

    /// Runs blocks 0..<blockCount over `ws.x[0..<rowCount]` (block 0's input, replaced by the last block's
    /// output). Block b reads WKV layer `wkvInputLayer[b]` of `wkvIn` and writes layer b of the outputs.
    func run(_ step: [StepSequence], rowCount: Int, blockCount: Int, wkvInputLayer: [Int], ws: Workspace) {
        ws.prepare(width: width, feedForward: feedForward, rank: maxRank)
        // The sequence of each row, to find token-shift predecessors in row-parallel passes.
        var firstRowOf = [Int](repeating: -1, count: rowCount)
        for (s, seq) in step.enumerated() where !seq.rows.isEmpty { firstRowOf[seq.rows.lowerBound] = s }
        for b in 0..<blockCount {
            timeMix(b, step, rowCount, firstRowOf, wkvInputLayer[b], ws)
            channelMix(b, step, rowCount, firstRowOf, ws)
        }
    }

    // MARK: shared by both mixes

    /// LayerNorm (eps 1e-5) of every row of the step: `ws.x` -> `ws.xn`.
    private func normalizeRows(_ rows: Int, weight: WeightBuffer, bias: WeightBuffer, _ ws: Workspace) {
        let x = ws.x.p, xn = ws.xn.p, c = width
        forRows(rows) { range in
            for row in range {
                layerNormRow(width: c, x: x + row * c, weight: weight.p, bias: bias.p, eps: 1e-5, out: xn + row * c)
            }
        }
    }

    /// The token-shift input of a row: the row before it in its sequence, else the carried shift
    /// state of its sequence (at `shiftOffset` in the state: time mix or channel mix), else zeros.
    @inline(__always)
    private func shiftSource(_ row: Int, _ firstRowOf: [Int], _ step: [StepSequence], shiftOffset: Int,
                             xn: UnsafeMutablePointer<Float>, zeros: UnsafePointer<Float>) -> UnsafePointer<Float> {
        let s = firstRowOf[row]
        if s < 0 { return UnsafePointer(xn + (row - 1) * width) }
        return step[s].shiftIn.map { $0 + shiftOffset } ?? zeros
    }

    // MARK: time mix

    private func timeMix(_ b: Int, _ step: [StepSequence], _ rows: Int, _ firstRowOf: [Int], _ wkvLayer: Int, _ ws: Workspace) {
        let block = blocks[b], t = block.timeMix, c = width
        let x = ws.x.p, xn = ws.xn.p
        let zeros = UnsafePointer(ws.zeros.p)
        let lerpStride = ws.maxRows * c
        let lerp0 = ws.lerp(0)

        // ln1, then token shift and the six interpolations (r, w, k, v, a, g inputs).
        normalizeRows(rows, weight: block.ln1Weight, bias: block.ln1Bias, ws)
        forRows(rows) { range in
            for row in range {
                let previous = shiftSource(row, firstRowOf, step, shiftOffset: b * layerStride, xn: xn, zeros: zeros)
                tokenShiftLerp6Row(width: c, x: xn + row * c, previous: previous, mix: t.mix.p,
                                   out: lerp0 + row * c, outputStride: lerpStride)
            }
        }
        for seq in step where !seq.rows.isEmpty {
            seq.shiftOut.map { ($0 + b * layerStride).update(from: xn + (seq.rows.upperBound - 1) * c, count: c) }
        }

        // Projections over all rows at once.
        let xr = ws.lerp(0), xw = ws.lerp(1), xk = ws.lerp(2), xv = ws.lerp(3), xa = ws.lerp(4), xg = ws.lerp(5)
        linear(xr, rows, t.receptance, ws.r.p, c, c)
        linear(xk, rows, t.key, ws.k.p, c, c)
        linear(xv, rows, t.value, ws.v.p, c, c)
        lora(xw, rows, t.w1, t.w2, t.decayRank, ws.w.p, ws, inner: applyTanh)
        lora(xa, rows, t.a1, t.a2, t.inContextRateRank, ws.a.p, ws, inner: nil)
        lora(xg, rows, t.g1, t.g2, t.gateRank, ws.g.p, ws, inner: applySigmoid)
        var valueGate: UnsafeMutablePointer<Float>? = nil
        if let v1 = t.v1, let v2 = t.v2 {
            valueGate = ws.lerp(1)  // xw is consumed
            lora(xv, rows, v1, v2, t.valueResidualRank, valueGate!, ws, inner: nil)
        }

        // Decay, in-context rate, normalised key, value residual.
        let vectors = TimeMixVectors(w0: t.w0.p, a0: t.a0.p, kK: t.kK.p, kA: t.kA.p, v0: t.v0?.p)
        let gate = valueGate.map { UnsafePointer($0) }
        forRows(rows) { range in
            for row in range {
                let o = row * c
                timeMixPrepareRow(width: c, p: vectors, k: ws.k.p + o, v: ws.v.p + o, w: ws.w.p + o,
                                  a: ws.a.p + o, kk: ws.kk.p + o, vFirst: ws.vFirst.p + o, vGate: gate.map { $0 + o })
            }
        }

        // The recurrence, per (sequence, head); output y into the first lerp buffer (xr is consumed).
        let y = ws.lerp(0)
        recurrence(b, step, wkvLayer, y, ws)

        // GroupNorm + bonus + gate, then the output projection added to the residual stream.
        forRows(rows) { range in
            for row in range {
                let o = row * c
                groupNormBonusGateRow(width: c, y: y + o, r: ws.r.p + o, k: ws.k.p + o, v: ws.v.p + o, g: ws.g.p + o,
                                      rK: t.rK.p, lnWeight: t.lnXWeight.p, lnBias: t.lnXBias.p, eps: 64e-5, out: y + o)
            }
        }
        linear(y, rows, t.output, x, c, c, accumulate: true)
    }

    private func recurrence(_ b: Int, _ step: [StepSequence], _ wkvLayer: Int, _ y: UnsafeMutablePointer<Float>, _ ws: Workspace) {
        let c = width, heads = headCount, n = 64 * 64
        let stateOffsetIn = wkvLayer * layerStride + 2 * c
        let stateOffsetOut = b * layerStride + 2 * c
        let zeros = UnsafePointer(ws.zeros.p) + 2 * c
        let taskCount = step.count * heads
        guard taskCount > 0 else { return }
        // Balance workers by rows: task i covers sequence i / heads.
        var cost = [Int](repeating: 0, count: taskCount + 1)
        for i in 0..<taskCount { cost[i + 1] = cost[i] + step[i / heads].rows.count + 1 }
        let workers = min(KernelThreads.coreCount, taskCount, max(1, cost[taskCount] / 16))
        let total = cost[taskCount]
        KernelThreads.parallel(workers) { worker in
            let lo = total * worker / workers, hi = total * (worker + 1) / workers
            let discard = ws.discard.p + worker * n
            for task in 0..<taskCount {
                let mid = (cost[task] + cost[task + 1]) / 2
                guard mid >= lo && mid < hi else { continue }
                let seq = step[task / heads], h = task % heads
                guard !seq.rows.isEmpty else { continue }
                let input: UnsafePointer<Float> = seq.wkvIn.map { $0 + stateOffsetIn + h * n } ?? (zeros + h * n)
                let output: UnsafeMutablePointer<Float> = seq.wkvOut.map { $0 + stateOffsetOut + h * n } ?? discard
                let o = seq.rows.lowerBound * c + h * 64
                wkv7(tokens: seq.rows.count, ld: c,
                     r: ws.r.p + o, w: ws.w.p + o, k: ws.k.p + o, v: ws.v.p + o, kk: ws.kk.p + o, b: ws.a.p + o,
                     stateIn: input, stateOut: output, y: y + o, ldy: c)
            }
        }
    }

    // MARK: channel mix

    private func channelMix(_ b: Int, _ step: [StepSequence], _ rows: Int, _ firstRowOf: [Int], _ ws: Workspace) {
        let block = blocks[b], f = block.channelMix, c = width
        let x = ws.x.p, xn = ws.xn.p, xk = ws.lerp(0), hidden = ws.hidden
        let zeros = UnsafePointer(ws.zeros.p)
        normalizeRows(rows, weight: block.ln2Weight, bias: block.ln2Bias, ws)
        forRows(rows) { range in
            for row in range {
                let previous = shiftSource(row, firstRowOf, step, shiftOffset: b * layerStride + c, xn: xn, zeros: zeros)
                tokenShiftLerpRow(width: c, x: xn + row * c, previous: previous, mix: f.mix.p, out: xk + row * c)
            }
        }
        for seq in step where !seq.rows.isEmpty {
            seq.shiftOut.map { ($0 + b * layerStride + c).update(from: xn + (seq.rows.upperBound - 1) * c, count: c) }
        }
        linear(xk, rows, f.key, hidden, f.hiddenSize, c)
        let h = f.hiddenSize
        forRows(rows) { range in
            applyReluSquare(hidden + range.lowerBound * h, count: range.count * h)
        }
        linear(hidden, rows, f.value, x, c, h, accumulate: true)
    }

    // MARK: helpers

    /// out[rows, n] (+)= input[rows, k] W^T, W an nn.Linear weight [n, k].
    @inline(__always)
    private func linear(_ input: UnsafePointer<Float>, _ rows: Int, _ weight: LinearWeight,
                        _ out: UnsafeMutablePointer<Float>, _ n: Int, _ k: Int, accumulate: Bool = false) {
        weight.multiply(rows: rows, x: input, ldx: k, out: out, ldo: n, accumulate: accumulate)
    }

    /// out = f(input @ first) @ second, a LoRA with [C, rank] and [rank, C] factors.
    @inline(__always)
    private func lora(_ input: UnsafePointer<Float>, _ rows: Int, _ first: WeightBuffer, _ second: WeightBuffer,
                      _ rank: Int, _ out: UnsafeMutablePointer<Float>, _ ws: Workspace,
                      inner: ((UnsafeMutablePointer<Float>, Int) -> Void)?) {
        let c = width, mid = ws.lora.p
        // Both factors and the activation per block of rows, in one parallel region.
        let workers = rows >= 32 && KernelThreads.splitsGEMMs ? KernelThreads.coreCount : 1
        KernelThreads.parallel(workers) { w in
            let r = KernelThreads.range(w, of: workers, total: rows)
            guard !r.isEmpty else { return }
            func product(_ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                         _ out: UnsafeMutablePointer<Float>) {
                if rowInvariantLoRAs {
                    rowInvariantSgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, bTransposed: false, c: out, ldc: n)
                } else {
                    sgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, bTransposed: false, c: out, ldc: n)
                }
            }
            product(r.count, rank, c, input + r.lowerBound * c, first.p, mid + r.lowerBound * rank)
            if let inner { inner(mid + r.lowerBound * rank, r.count * rank) }
            product(r.count, c, rank, mid + r.lowerBound * rank, second.p, out + r.lowerBound * c)
        }
    }
}

/// Splits rows over the cores when there is enough work to pay for the hand-off.
@inline(__always)
func forRows(_ count: Int, minimumPerWorker: Int = 16, _ body: (Range<Int>) -> Void) {
    let workers = min(KernelThreads.coreCount, max(1, count / minimumPerWorker))
    KernelThreads.parallel(workers) { w in body(KernelThreads.range(w, of: workers, total: count)) }
}
