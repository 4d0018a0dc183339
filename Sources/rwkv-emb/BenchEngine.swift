import ArgumentParser
import EmbeddingRWKV
import Foundation
import RWKVCheckpoint
import RWKVKernels

/// `rwkv-emb bench engine` (the default bench): prefill throughput, query latency, offline reranking,
/// achieved GFLOP/s against OpenBLAS's own large-sgemm rate measured in the same run, peak memory.
struct BenchEngine: ParsableCommand {
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

    func run() throws {
        #if DEBUG
        print("note: this is a debug build; use `swift build -c release` for representative figures")
        #endif
        let startRSS = currentRSSMegabytes()
        let loadStart = ContinuousClock.now
        let weights: EmbeddingModelWeights
        if let model {
            weights = try EmbeddingModelWeights.load(contentsOf: ModelLocator.embeddingNow(model: model))
        } else {
            weights = EmbeddingModelWeights.random(architecture: shape.architecture, seed: 1)
        }
        let architecture = weights.architecture
        let rerankerWeights: RerankerWeights
        if let reranker {
            rerankerWeights = try RerankerWeights.load(contentsOf: ModelLocator.rerankerNow(reranker), pairedWith: architecture)
        } else {
            let l = architecture.layerCount
            let indices = Array(Set([l / 4 - 1, l / 2 - 1, 3 * l / 4 - 1, l - 1].map { max(0, $0) })).sorted()
            var ra = architecture
            ra.layerCount = indices.count
            rerankerWeights = RerankerWeights.random(architecture: ra, layerIndices: indices, seed: 2)
        }
        let weightsRSS = currentRSSMegabytes()
        let engine = RWKVModel(consume weights)
        let ra = rerankerWeights.architecture
        let rerankerBytes = Double(parameterCount(ra) - ra.vocabularySize * ra.embeddingSize - 5 * ra.embeddingSize * ra.embeddingSize) * 4
        let network = try RerankerNetwork(consume rerankerWeights)
        try network.check(pairedWith: engine)
        let loadTime = seconds(ContinuousClock.now - loadStart)
        let loadedRSS = currentRSSMegabytes()
        let ws = engine.makeWorkspace()

        let flopsPerToken = forwardFlopsPerToken(architecture)
        let weightBytes = Double(parameterCount(architecture)) * 4
        print("model:      \(model ?? "random \(shape.rawValue)"): \(architecture)")
        print("            \(String(format: "%.0f", weightBytes / 1e6)) MB fp32 weights (+ reranker \(String(format: "%.0f", rerankerBytes / 1e6)) MB), "
            + "\(String(format: "%.1f", flopsPerToken / 1e6)) MFLOP/token, ready in \(String(format: "%.1f", loadTime)) s, "
            + "RSS \(startRSS.map { String(format: "%.0f MB", $0) } ?? "n/a") at start, \(weightsRSS.map { String(format: "%.0f MB", $0) } ?? "n/a") with checkpoint weights, engine \(loadedRSS.map { String(format: "%.0f MB", $0) } ?? "n/a") (peak so far \(peakRSSMegabytes().map { String(format: "%.0f MB", $0) } ?? "n/a"))")
        print("threads:    \(KernelThreads.coreCount) cores; engine GEMMs split over \(KernelThreads.coreCount) workers, OpenBLAS single-threaded; "
            + "OPENBLAS_CORETYPE=\(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "(unset)")")

        let blasThreaded = sgemmRate(n: 2048, engineSplit: false)
        let engineSplit = sgemmRate(n: 2048, engineSplit: true)
        let roofline = max(blasThreaded, engineSplit)
        print("sgemm:      2048^3 best of 3: \(String(format: "%.1f", blasThreaded)) GFLOP/s with OpenBLAS's threads, "
            + "\(String(format: "%.1f", engineSplit)) GFLOP/s split over the engine's workers; roofline = the larger")

        var rng = SeededGenerator(seed: 7)
        func text(_ n: Int) -> [Int] { (0..<(n - 1)).map { _ in 1 + Int(rng.next() % 65000) } + [RWKVModel.eos] }

        for (batch, length) in [(1, 512), (8, 512), (32, 128)] {
            let inputs = (0..<batch).map { _ in text(length) }
            // The machine may be shared: measure the sgemm rate right next to each run (same conditions)
            // and report best against best.
            var t = Double.infinity, local = 0.0
            for _ in 0..<iterations {
                local = max(local, sgemmRate(n: 2048, engineSplit: true, repeats: 1))
                t = min(t, try best(1) { _ = try engine.embed(inputs, workspace: ws) })
            }
            local = max(local, sgemmRate(n: 2048, engineSplit: true, repeats: 1))
            let tokens = Double(batch * length)
            let gflops = tokens * flopsPerToken / t / 1e9
            print("prefill \(batch)x\(length):".padding(toLength: 20, withPad: " ", startingAt: 0)
                + "\(String(format: "%7.1f", tokens / t)) tokens/s  \(String(format: "%6.1f", gflops)) GFLOP/s  "
                + "(\(String(format: "%.0f", 100 * gflops / local))% of the sgemm rate measured alongside, "
                + "\(String(format: "%.0f", local)) GFLOP/s; \(String(format: "%.0f", 100 * gflops / roofline))% of the first)  "
                + "\(String(format: "%.1f", t * 1e3)) ms")
        }

        let query = text(64)
        let q = try best(max(iterations, 5)) { _ = try engine.embed([query], workspace: ws) }
        print("query 64 tokens:    \(String(format: "%.1f", q * 1e3)) ms latency (embedding, one sequence)")

        // Offline rerank: cache document states (only the reranker's layers), then one query against all.
        let docs = (0..<documents).map { _ in Array(text(128).dropLast()) }
        var states = docs.map { _ in engine.zeroState(layers: network.requiredLayers) }
        let d = try best(1) { _ = try engine.forward(docs, states: &states, workspace: ws) }
        print("doc states:         \(documents) x 128 tokens in \(String(format: "%.1f", d * 1e3)) ms "
            + "(layers 0...\(network.requiredLayers - 1), \(String(format: "%.1f", Double(states[0].serialized().count) / 1e6)) MB each)")
        let queryIds = text(64)
        let r = try best(iterations) {
            let (_, queried) = try engine.forward(Array(repeating: queryIds, count: states.count), from: states, workspace: ws)
            _ = try network.logits(queried, workspace: ws)
        }
        print("offline rerank:     64-token query vs \(documents) cached states in \(String(format: "%.1f", r * 1e3)) ms "
            + "(reranker blocks read layers \(network.layerIndices))")
        print("peak RSS:           \(peakRSSMegabytes().map { String(format: "%.0f MB", $0) } ?? "n/a") "
            + "(fp32 weights \(String(format: "%.0f", (weightBytes + rerankerBytes) / 1e6)) MB with the reranker)")
    }
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
        bestTime = min(bestTime, seconds(ContinuousClock.now - start))
    }
    return 2 * Double(n * n * n) / bestTime / 1e9
}

private func best(_ iterations: Int, _ body: () throws -> Void) rethrows -> Double {
    var bestTime = Double.infinity
    for _ in 0..<iterations {
        let start = ContinuousClock.now
        try body()
        bestTime = min(bestTime, seconds(ContinuousClock.now - start))
    }
    return bestTime
}

private func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
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
