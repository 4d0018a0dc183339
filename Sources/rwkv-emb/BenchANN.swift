import ArgumentParser
import Foundation
import RWKVKernels
import RWKVRetrieval

/// `rwkv-emb bench ann`: the dense stage at scale on synthetic clustered embeddings (SyntheticEmbeddings:
/// a Gaussian mixture around `--clusters` centroids uniform on the sphere, noise of norm `--spread`,
/// L2-normalised): single-query p50/p99 and recall@10 against the exact scan for the exact fp32 scan,
/// HNSW (per efSearch), int8 and 1-bit codes + fp32 rescoring (per oversampling), and filters of 10%
/// and 1% selectivity planned as a collection plans them; build time and bytes per vector.
struct BenchANN: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ann", abstract: "ANN index, compressed codes and filtered search vs the exact scan.")

    @Option(help: "Passages (vectors).") var passages: Int = 1_000_000
    @OptionGroup var embeddings: SyntheticEmbeddingOptions
    @Option(help: "Mixture components of the synthetic distribution.") var clusters: Int = 4096
    @Option(help: "Noise norm around each centroid.") var spread: Float = 0.8
    @Option(help: "Timed single queries per configuration.") var queries: Int = 200
    @Option(help: "HNSW links per node.") var m: Int = 16
    @Option(help: "HNSW build-time search width.") var efConstruction: Int = 100
    @Option(help: "HNSW query-time search widths (comma separated).") var efSearch: String = "64,128,192"
    @Option(help: "int8 oversampling factors (first-pass candidates = k * factor).") var int8Oversample: String = "2,4"
    @Option(help: "1-bit oversampling factors.") var binaryOversample: String = "10,30"
    @Option(help: "Filtered queries: exact over the matches up to this many (the collection's filterExactLimit).")
    var filterExactLimit: Int = ANNSettings().filterExactLimit
    @Option(help: "Write the index to a temporary file and report its size.") var save: Bool = true

    struct Row {
        var name: String
        var p50: Double
        var p99: Double
        var recall: Double
        var note: String
    }

    func run() async throws {
        RetrievalBench.debugNote()
        let k = 10
        let n = passages, d = embeddings.dimension
        let cores = KernelThreads.coreCount
        print("cpu: \(cpuModelName()), \(cores) cores (shared with other jobs: figures are noisy); HNSW distance \(HNSWIndex.kernel); codes \(EmbeddingCodes.kernels); exact scan: sgemv (OpenBLAS, one thread per worker)")
        print("data: \(n) vectors x \(d), Gaussian mixture of \(clusters) centroids, noise norm \(spread), L2-normalised; \(queries) queries from the same mixture (not stored rows); k = \(k)")
        let gen = SyntheticEmbeddings(dimension: d, clusters: clusters, spread: spread, seed: 7)
        var matrix = [Float](repeating: 0, count: n * d)
        let tGen = RetrievalBench.time {
            matrix.withUnsafeMutableBufferPointer { m in
                let base = m.baseAddress!
                KernelThreads.parallel(cores) { w in
                    let r = KernelThreads.range(w, of: cores, total: n)
                    if !r.isEmpty { gen.fill(base + r.lowerBound * d, first: r.lowerBound, count: r.count) }
                }
            }
        }
        print(String(format: "generated in %.1f s", tGen))
        let qs = gen.queries(queries)
        var rows: [Row] = []
        func percentile(_ xs: [Double], _ p: Double) -> Double {
            let s = xs.sorted()
            return s[min(s.count - 1, Int(Double(s.count - 1) * p + 0.5))] * 1000
        }
        func recall(_ got: [Int], _ truth: [Int]) -> Double {
            let t = Set(truth)
            return truth.isEmpty ? 1 : Double(got.filter { t.contains($0) }.count) / Double(truth.count)
        }
        try matrix.withUnsafeBufferPointer { mp in
            let base = mp.baseAddress!
            func rowPointer(_ r: Int) -> UnsafePointer<Float> { base + r * d }
            // 1. The exact scan: the truth and the peer every ratio is against.
            var truth: [[Int]] = []
            var times: [Double] = []
            for q in qs {
                var top: [Int] = []
                times.append(RetrievalBench.time {
                    top = VectorSearch.topK(VectorSearch.scores(matrix: base, rows: n, dimension: d, query: q), k: k).map(\.row)
                })
                truth.append(top)
            }
            rows.append(Row(name: "exact fp32 scan", p50: percentile(times, 0.5), p99: percentile(times, 0.99), recall: 1,
                            note: "\(d * 4) B/vector (the mapped segment)"))
            let exactP50 = rows[0].p50
            // 2. HNSW.
            let index = try HNSWIndex(dimension: d, m: m, efConstruction: efConstruction, capacity: n)
            let labels = (0..<n).map { Int64($0) }
            let tBuild = try RetrievalBench.time {
                let step = 65_536
                for s in stride(from: 0, to: n, by: step) {
                    try index.add(base + s * d, labels: Array(labels[s..<min(n, s + step)]), threads: cores)
                }
            }
            var fileBytes = 0
            if save {
                fileBytes = try RetrievalBench.withTemporaryDirectory { dir in
                    let path = dir.appendingPathComponent("index.hnsw").path
                    try index.save(path: path)
                    return ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
                }
            }
            print(String(format: "HNSW M=%d efConstruction=%d: built in %.1f s on %d threads (%.0f vectors/s); %.0f B/vector in memory, %@ B/vector on disk",
                         m, efConstruction, tBuild, cores, Double(n) / tBuild, Double(index.memoryBytes) / Double(n),
                         fileBytes > 0 ? String(format: "%.0f", Double(fileBytes) / Double(n)) : "-"))
            for ef in efSearch.split(separator: ",").compactMap({ Int($0) }) {
                var t: [Double] = [], r = 0.0
                for (i, q) in qs.enumerated() {
                    var got: [Int] = []
                    t.append(RetrievalBench.time { got = index.search(q, k: k, ef: ef).map { Int($0.id) } })
                    r += recall(got, truth[i])
                }
                rows.append(Row(name: "HNSW efSearch=\(ef)", p50: percentile(t, 0.5), p99: percentile(t, 0.99), recall: r / Double(qs.count),
                                note: String(format: "%.0f B/vector", Double(index.memoryBytes) / Double(n))))
            }
            // 3. Compressed codes + rescoring from the fp32 rows.
            for (kind, factors) in [(EmbeddingCodes.Kind.int8, int8Oversample), (.binary, binaryOversample)] {
                var codes = EmbeddingCodes(kind: kind, dimension: d)
                let tCodes = RetrievalBench.time { codes.append(base, rows: n) }
                for f in factors.split(separator: ",").compactMap({ Int($0) }) {
                    var t: [Double] = [], r = 0.0
                    for (i, q) in qs.enumerated() {
                        var got: [Int] = []
                        t.append(RetrievalBench.time { got = codes.search(query: q, k: k, oversample: f, row: rowPointer).map(\.row) })
                        r += recall(got, truth[i])
                    }
                    rows.append(Row(name: "\(kind.rawValue) codes + rescore x\(f)", p50: percentile(t, 0.5), p99: percentile(t, 0.99),
                                    recall: r / Double(qs.count),
                                    note: String(format: "%d B/vector in memory (+ the mapped fp32 rows), encoded in %.1f s", codes.bytesPerVector, tCodes)))
                }
            }
            // 4. Filters (every 10th / 100th vector matches: uncorrelated with the clusters), planned as a
            // collection plans them: exact over the matches when few, else HNSW widened until k match.
            let ef = ANNSettings().efSearch
            for every in [10, 100] {
                let matching = n / every
                var tPlan: [Double] = [], tScan: [Double] = [], r = 0.0
                var paths: [String: Int] = [:]
                var short = 0
                for q in qs {
                    var masked: [Int] = []
                    tScan.append(RetrievalBench.time {
                        masked = VectorSearch.topK(VectorSearch.scores(matrix: base, rows: n, dimension: d, query: q), k: k) { $0 % every == 0 }.map(\.row)
                    })
                    var got: [Int] = []
                    var path = ""
                    tPlan.append(RetrievalBench.time {
                        if matching <= filterExactLimit {
                            var scored: [(row: Int, score: Float)] = []
                            scored.reserveCapacity(matching)
                            for row in stride(from: 0, to: n, by: every) { scored.append((row, Self.dot(rowPointer(row), q))) }
                            scored.sort { $0.score > $1.score }
                            got = scored.prefix(k).map(\.row)
                            path = "exact-filtered"
                        } else if let kept = index.filteredSearch(q, k: k, matching: matching, total: n, efSearch: ef, accept: { found in
                            found.filter { $0.id % Int64(every) == 0 }
                        }) {
                            got = kept.map { Int($0.id) }
                            path = "hnsw-filtered"
                        } else {
                            got = VectorSearch.topK(VectorSearch.scores(matrix: base, rows: n, dimension: d, query: q), k: k) { $0 % every == 0 }.map(\.row)
                            path = "exact-fallback"
                        }
                    })
                    paths[path, default: 0] += 1
                    if got.count < min(k, matching) { short += 1 }
                    r += recall(got, masked)
                }
                let pathText = paths.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                rows.append(Row(name: "filter \(100 / every)% exact masked scan", p50: percentile(tScan, 0.5), p99: percentile(tScan, 0.99), recall: 1, note: "\(matching) matches"))
                rows.append(Row(name: "filter \(100 / every)% planned", p50: percentile(tPlan, 0.5), p99: percentile(tPlan, 0.99), recall: r / Double(qs.count),
                                note: "paths: \(pathText); queries under-returned: \(short)"))
            }
            print("")
            print("method                               p50 ms    p99 ms   recall@10   p50 vs exact   notes")
            for row in rows {
                print(row.name.padding(toLength: 36, withPad: " ", startingAt: 0) + String(format: "%8.3f  %8.3f   %9.4f   %10.1fx   ", row.p50, row.p99, row.recall,
                             exactP50 / max(row.p50, 1e-9)) + row.note)
            }
        }
    }

    static func dot(_ a: UnsafePointer<Float>, _ b: [Float]) -> Float {
        var s: Float = 0
        for j in 0..<b.count { s += a[j] * b[j] }
        return s
    }
}
