import ArgumentParser
import EmbeddingRWKV
import Foundation
import RWKVCheckpoint
import RWKVKernels
import RWKVTokenizer
import RWKVSupport

/// `rwkv-emb bench engine` (the default bench): prefill throughput, query latency, offline reranking,
/// achieved GFLOP/s against OpenBLAS's own large-sgemm rate measured in the same run, peak memory.
struct BenchEngine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Measure the engine: prefill tokens/s, query latency, offline rerank, GFLOP/s vs the sgemm roofline.",
        discussion: "Without --model, random weights of a released shape are generated in memory. Build with -c release."
    )


    @Option(help: "Released shape for random weights: tiny (12x768), base (24x1024), large (24x2048).")
    var shape: ReleasedShape = .tiny

    @Option(help: ArgumentHelp("A real embedding model instead of random weights: a file, a directory or a name (tiny, base, large, hf:...).", valueName: "model"))
    var model: String?

    @Option(help: ArgumentHelp("A real reranker: a file, a directory or a name (default: a random 4-block reranker).", valueName: "reranker"))
    var reranker: String?

    @Option(help: "Timed repetitions per figure (the best is reported).")
    var iterations: Int = 3

    @Option(help: "Cached document states for the offline rerank figure.")
    var documents: Int = 100

    func validate() throws {
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1") }
        guard documents >= 1 else { throw ValidationError("--documents must be at least 1") }
    }

    @Option(parsing: .upToNextOption, help: "Weight precisions to measure (fp32 first: the others are compared with it).")
    var precisions: [WeightPrecision] = [.fp32, .bf16, .int8]

    /// One precision's figures.
    struct Figures {
        var precision: WeightPrecision
        var prefill: [Double] = []  // tokens/s for each prefill shape
        var query: Double = 0       // seconds
        var rerank: Double = 0      // pairs/s
        var gemm: Double = 0        // GFLOP/s of the precision's own GEMM (its roofline)
        var roofline8x512: Double = 0  // % of `gemm` reached by prefill 8x512
        var engineRSS: Double? = nil  // resident after loading
        var peakRSS: Double? = nil    // this precision's own peak: load + runs (VmHWM reset before it)
        var weightMB: Double = 0
    }

    static let prefillShapes = [(1, 512), (8, 512), (32, 128)]

    func run() async throws {
        RetrievalBench.debugNote()
        let kernels = MatrixKernels.current
        print("cpu:        \(cpuModelName()), \(KernelThreads.coreCount) cores; \(kernels)")
        print("kernels:    fp32 OpenBLAS sgemm; bf16 "
            + (kernels.bf16Kernel.map { "oneDNN matmul \($0) (bf16 x bf16 -> fp32)" } ?? "weights widened to fp32 per 128-channel panel + sgemm (no native bf16 matmul here)")
            + "; int8 \(kernels.hasInt8 ? "oneDNN s8s8s32, |w| <= \(LinearWeight.int8Range(for: kernels.cpu))" : "unavailable (no oneDNN)")"
            + (kernels.hasInt8 ? "; with bf16/int8 the LoRAs run on oneDNN's row-invariant sgemm" : "")
            + "; GEMMs split over \(KernelThreads.coreCount) workers, each single-threaded")
        let tokenizer = try WorldTokenizer()
        var rng = SeededGenerator(seed: 7)
        func text(_ n: Int) -> [Int] { (0..<(n - 1)).map { _ in 1 + Int(rng.next() % 65000) } + [RWKVModel.eos] }
        let prefillInputs = Self.prefillShapes.map { batch, length in (0..<batch).map { _ in text(length) } }
        let query = text(64)
        let docs = (0..<documents).map { _ in Array(text(128).dropLast()) }
        let rerankQuery = text(16)

        var all: [Figures] = []
        for requested in precisions {
            let precision = PrecisionChoice.resolve(requested)
            if precision != requested { print("\(requested.rawValue): skipped (runs as \(precision.rawValue) here)"); continue }
            var f = Figures(precision: precision)
            let peakReset = resetPeakRSS()
            let architecture: ModelArchitecture
            let engine: RWKVModel
            let network: RerankerNetwork
            do {
                let weights: EmbeddingModelWeights
                if let model {
                    weights = try EmbeddingModelWeights.load(contentsOf: await ModelLocator.embedding(model: model))
                } else {
                    weights = EmbeddingModelWeights.random(architecture: shape.architecture, seed: 1)
                }
                architecture = weights.architecture
                let rerankerWeights: RerankerWeights
                if let reranker {
                    rerankerWeights = try RerankerWeights.load(contentsOf: await ModelLocator.reranker(reranker), pairedWith: architecture)
                } else {
                    rerankerWeights = RetrievalBench.randomReranker(pairedWith: architecture)
                }
                engine = RWKVModel(consume weights, precision: precision)
                network = try RerankerNetwork(consume rerankerWeights, precision: precision)
                try network.check(pairedWith: engine)
            }
            f.engineRSS = currentRSSMegabytes()
            f.weightMB = Double(engine.matrixBytes) / 1e6
            f.gemm = gemmRate(precision.format, kernels: kernels, m: 2048, n: architecture.feedForwardSize, k: architecture.embeddingSize)
            let ws = engine.makeWorkspace()
            let flopsPerToken = forwardFlopsPerToken(architecture)
            print("\n\(precision.rawValue): block projections \(String(format: "%.0f", f.weightMB)) MB, engine RSS "
                + "\(f.engineRSS.map { String(format: "%.0f MB", $0) } ?? "n/a"); own GEMM 2048x\(architecture.feedForwardSize)x\(architecture.embeddingSize): "
                + "\(String(format: "%.1f", f.gemm)) GFLOP/s")
            for ((batch, length), inputs) in zip(Self.prefillShapes, prefillInputs) {
                let t = try best(iterations) { _ = try engine.embed(inputs, workspace: ws) }
                let tokens = Double(batch * length)
                f.prefill.append(tokens / t)
                let gflops = tokens * flopsPerToken / t / 1e9
                if batch == 8 && length == 512 { f.roofline8x512 = 100 * gflops / f.gemm }
                print("  prefill \(batch)x\(length):".padding(toLength: 22, withPad: " ", startingAt: 0)
                    + "\(String(format: "%7.1f", tokens / t)) tokens/s  \(String(format: "%6.1f", gflops)) GFLOP/s  "
                    + "(\(String(format: "%.0f", 100 * gflops / f.gemm))% of its GEMM rate)  \(String(format: "%.1f", t * 1e3)) ms")
            }
            f.query = try best(max(iterations, 5)) { _ = try engine.embed([query], workspace: ws) }
            print("  query 64 tokens:    \(String(format: "%.1f", f.query * 1e3)) ms latency (embedding, one sequence)")
            var states = docs.map { _ in engine.zeroState(layers: network.requiredLayers) }
            _ = try engine.forward(docs, states: &states, workspace: ws)
            let r = try best(iterations) {
                let (_, queried) = try engine.forward(Array(repeating: rerankQuery, count: states.count), from: states, workspace: ws)
                _ = try network.logits(queried, workspace: ws)
            }
            f.rerank = Double(documents) / r
            print("  offline rerank:     \(String(format: "%.0f", f.rerank)) pairs/s (16-token query vs \(documents) cached states of 128 tokens, "
                + "\(String(format: "%.1f", r * 1e3)) ms; reranker layers \(network.layerIndices))")
            if precision == precisions.first {
                try templatePrefixFigure(engine: engine, network: network, tokenizer: tokenizer, ws: ws)
                try queryPrefixFigure(engine: engine, tokenizer: tokenizer, ws: ws)
            }
            f.peakRSS = peakReset ? peakRSSMegabytes() : nil
            print("  peak RSS:           \(f.peakRSS.map { String(format: "%.0f MB", $0) } ?? "n/a (VmHWM cannot be reset here)") "
                + "(loading from fp32 weights in memory and the runs above)")
            all.append(f)
        }
        guard let base = all.first(where: { $0.precision == .fp32 }) else { return }
        print("\nratios to fp32 (same run):")
        print("precision  " + Self.prefillShapes.map { "prefill \($0.0)x\($0.1)" }.joined(separator: "  ")
            + "  query 64 (latency)  rerank pairs/s  GEMM rate (GFLOP/s)  8x512 % of it  engine RSS  peak RSS")
        for f in all {
            var line = f.precision.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)
            for (i, v) in f.prefill.enumerated() {
                line += String(format: "%.2fx", v / base.prefill[i]).padding(toLength: 14, withPad: " ", startingAt: 0)
            }
            line += String(format: "%.2fx", f.query / base.query).padding(toLength: 21, withPad: " ", startingAt: 0)
            line += String(format: "%.2fx", f.rerank / base.rerank).padding(toLength: 16, withPad: " ", startingAt: 0)
            line += String(format: "%.2fx (%.0f)", f.gemm / base.gemm, f.gemm).padding(toLength: 21, withPad: " ", startingAt: 0)
            line += String(format: "%.0f%%", f.roofline8x512).padding(toLength: 15, withPad: " ", startingAt: 0)
            line += (f.engineRSS.flatMap { a in base.engineRSS.map { String(format: "%.2fx (%.0f MB)", a / $0, a) } } ?? "n/a")
                .padding(toLength: 19, withPad: " ", startingAt: 0)
            line += f.peakRSS.flatMap { a in base.peakRSS.map { String(format: "%.2fx (%.0f MB)", a / $0, a) } } ?? "n/a"
            print(line)
        }
    }

    /// Query embeddings from the cached instruction prefix (`Embedder.embedQueries`) vs from the zero state.
    private func queryPrefixFigure(engine: RWKVModel, tokenizer: WorldTokenizer, ws: Workspace) throws {
        let embedder = Embedder(model: engine, tokenizer: tokenizer)
        for length in [8, 32] {
            let queries = try RetrievalBench.texts(count: 16, tokens: length, tokenizer: tokenizer)
            let tokens = queries.map { embedder.tokens(for: Embedder.query($0)) }
            let prefix = try embedder.queryPrefix(Embedder.defaultInstruction)
            let hits = tokens.filter { $0.starts(with: prefix.ids) }.count
            let zero = try best(iterations) { for t in tokens { _ = try engine.embed([t], workspace: ws) } }
            let cached = try best(iterations) { for q in queries { _ = try embedder.embedQueries([q], workspace: ws) } }
            print("  query prefix:       16 queries of \(length) tokens, one at a time: \(String(format: "%.1f", zero * 1e3)) ms from zero, "
                + "\(String(format: "%.1f", cached * 1e3)) ms from the cached \(prefix.ids.count)-token instruction prefix "
                + "(\(String(format: "%.2f", zero / cached))x; \(hits)/16 used it)")
        }
    }

    /// The reranker's document states from the cached template prefix vs from the zero state.
    private func templatePrefixFigure(engine: RWKVModel, network: RerankerNetwork, tokenizer: WorldTokenizer, ws: Workspace) throws {
        let reranker = try StateReranker(model: engine, network: network, tokenizer: tokenizer)
        for length in [16, 64] {
            let texts = try RetrievalBench.texts(count: documents, tokens: length, tokenizer: tokenizer)
            let tokens = texts.map(reranker.documentTokens)
            let hits = tokens.filter { $0.starts(with: reranker.templatePrefix.ids) }.count
            let zero = try best(iterations) { _ = try reranker.documentStatesFromZero(tokens: tokens, workspace: ws) }
            let cached = try best(iterations) { _ = try reranker.documentStates(tokens: tokens, workspace: ws) }
            let mean = Double(tokens.map(\.count).reduce(0, +)) / Double(tokens.count)
            print("  template prefix:    \(documents) documents of \(length) tokens (\(String(format: "%.0f", mean)) with the template): "
                + "\(String(format: "%.1f", zero * 1e3)) ms from zero, \(String(format: "%.1f", cached * 1e3)) ms from the cached "
                + "\(reranker.templatePrefix.ids.count)-token prefix (\(String(format: "%.2f", zero / cached))x; \(hits)/\(documents) used it)")
        }
    }
}

/// GFLOP/s of out[m, n] = x[m, k] W^T in `format` as the engine runs it (split over its workers), best of 3.
private func gemmRate(_ format: MatrixFormat, kernels: MatrixKernels, m: Int, n: Int, k: Int) -> Double {
    KernelThreads.useSingleThreadedBLAS()
    var rng = SeededGenerator(seed: 3)
    let weight = LinearWeight((0..<(n * k)).map { _ in Float(rng.next() % 2001) / 1000 - 1 }, outputs: n, inputs: k,
                              format: format, int8Range: LinearWeight.int8Range(for: kernels.cpu), nativeBF16: kernels.hasBF16GEMM)
    let x = (0..<(m * k)).map { _ in Float(rng.next() % 2001) / 1000 - 1 }
    var out = [Float](repeating: 0, count: m * n)
    var bestTime = Double.infinity
    for _ in 0..<3 {
        let start = ContinuousClock.now
        x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                weight.multiply(rows: m, x: xp.baseAddress!, ldx: k, out: op.baseAddress!, ldo: n, accumulate: false)
            }
        }
        bestTime = min(bestTime, (ContinuousClock.now - start).seconds)
    }
    return 2 * Double(m * n * k) / bestTime / 1e9
}

/// The CPU's model name (/proc/cpuinfo on Linux).
func cpuModelName() -> String {
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
    for line in info.split(separator: "\n") where line.hasPrefix("model name") {
        return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
    }
    return "unknown CPU"
}

/// 2 * (parameters in matmuls) + the WKV recurrence (about 9 N^2 per head) per token.
func forwardFlopsPerToken(_ a: ModelArchitecture) -> Double {
    let c = Double(a.embeddingSize), f = Double(a.feedForwardSize)
    var perLayerParams = 4 * c * c + 2 * c * f
    perLayerParams += 2 * c * Double(a.decayRank + a.inContextRateRank + a.gateRank)
    let residual = 2 * c * Double(a.valueResidualRank) * Double(max(a.layerCount - 1, 0))
    let n = Double(a.headSize)
    let wkv = 9 * n * n * Double(a.headCount)
    return Double(a.layerCount) * (2 * perLayerParams + wkv) + 2 * residual
}

func parameterCount(_ a: ModelArchitecture) -> Int {
    let c = a.embeddingSize
    let perLayer = 4 * c * c + 2 * c * a.feedForwardSize + 2 * c * (a.decayRank + a.inContextRateRank + a.gateRank + a.valueResidualRank) + 20 * c
    return a.vocabularySize * c + a.layerCount * perLayer + 3 * 2 * c * c
}

/// GFLOP/s of one n^3 sgemm (best of 3) with OpenBLAS's own threading on all cores, or as the engine runs
/// its GEMMs (single-threaded OpenBLAS on each worker's share).
private func sgemmRate(n: Int, engineSplit: Bool, repeats: Int = 3) -> Double {
    KernelThreads.useSingleThreadedBLAS()
    setBLASThreads(engineSplit ? 1 : KernelThreads.coreCount)
    defer { setBLASThreads(1) }
    let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
    var c = [Float](repeating: 0, count: n * n)
    var bestTime = Double.infinity
    for _ in 0..<repeats {
        let start = ContinuousClock.now
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    let gemm = engineSplit ? parallelSgemm : sgemm
                    gemm(n, n, n, ap.baseAddress!, n, bp.baseAddress!, n, true, cp.baseAddress!, n, 1, 0)
                }
            }
        }
        bestTime = min(bestTime, (ContinuousClock.now - start).seconds)
    }
    return 2 * Double(n * n * n) / bestTime / 1e9
}

private func best(_ iterations: Int, _ body: () throws -> Void) rethrows -> Double {
    var bestTime = Double.infinity
    for _ in 0..<iterations {
        let start = ContinuousClock.now
        try body()
        bestTime = min(bestTime, (ContinuousClock.now - start).seconds)
    }
    return bestTime
}



/// Resets VmHWM to the current RSS (Linux >= 4.0: `5` to /proc/self/clear_refs); false where it cannot.
func resetPeakRSS() -> Bool {
    guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
    defer { try? handle.close() }
    return (try? handle.write(contentsOf: Data("5".utf8))) != nil
}

/// VmHWM (peak resident memory) from /proc/self/status (Linux), in MB.
func peakRSSMegabytes() -> Double? { procStatus("VmHWM:") }

/// VmRSS (current resident memory), in MB.
func currentRSSMegabytes() -> Double? { procStatus("VmRSS:") }

private func procStatus(_ key: String) -> Double? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix(key) {
        let kb = line.split(separator: " ").compactMap { Double($0) }.first
        return kb.map { $0 / 1024 }
    }
    return nil
}
