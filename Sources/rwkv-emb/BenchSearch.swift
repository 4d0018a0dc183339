import ArgumentParser
import Foundation
import RWKVKernels
import RWKVRetrieval
import RWKVCheckpoint
import RWKVSupport

/// `rwkv-emb bench search`: the retrieval stage alone (exact cosine scan + top-k over a memory-mapped
/// embedding matrix, as a collection runs it) against the memory bandwidth of a plain copy; then a whole
/// collection of `--passages` passages (synthetic embeddings written straight into its segments, texts of
/// random words for BM25): dense, lexical and hybrid search, and filters matching 100% / 10% / 1%.
struct BenchSearch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Scan latency at 10k and 100k rows vs memory-copy bandwidth; a 100k-passage collection: dense, lexical, hybrid and filtered search p50/p99.")

    @Option(help: "Collection sizes (comma separated).")
    var documents: String = "10000,100000"

    @OptionGroup var embeddings: SyntheticEmbeddingOptions

    @Option(help: "Candidates returned (top-k of the scan).")
    var candidates: Int = SearchOptions().candidates

    @Option(help: "Timed queries per size (the median is reported).")
    var queries: Int = 30

    @Option(help: "Passages of the collection run (0: skip it).")
    var passages: Int = 100_000

    @Option(help: "Timed queries per search configuration of the collection run (p50 and p99 are reported).")
    var latencyQueries: Int = 100

    private var dimension: Int { embeddings.dimension }

    func run() async throws {
        RetrievalBench.debugNote()
        RetrievalBench.machineNote()
        let sizes = documents.split(separator: ",").compactMap { Int($0) }
        try RetrievalBench.withTemporaryDirectory { dir in
            var rng = SeededGenerator(seed: 11)
            func normalised() -> [Float] { embeddings.randomUnitVector(using: &rng) }
            print("threads: \(KernelThreads.coreCount) cores; the scan splits rows over `threads` workers, one single-threaded sgemv each")
            print("documents   matrix MB   threads   scan+top-k ms median (best)   scan GB/s (best)   copy GB/s (read+write, best)   scan / copy   scan / copy rate (bytes copied/s)")
            for n in sizes {
                // The matrix file as a collection stores it (rows of fp32 after a 64-byte header), memory-mapped.
                let url = dir.appendingPathComponent("embeddings-\(n).f32")
                _ = FileManager.default.createFile(atPath: url.path, contents: Data(count: 64))
                let handle = try FileHandle(forWritingTo: url)
                try handle.seekToEnd()
                var block: [Float] = []
                for r in 0..<n {
                    block += normalised()
                    if block.count >= 1 << 20 || r == n - 1 {
                        handle.write(block.withUnsafeBytes { Data($0) })
                        block.removeAll(keepingCapacity: true)
                    }
                }
                try handle.close()
                let data = try Data(contentsOf: url, options: .alwaysMapped)
                let bytes = n * dimension * 4
                let queryVectors = (0..<queries).map { _ in normalised() }
                let copy = copyBandwidth(bytes: bytes)
                for threads in Array(Set([KernelThreads.coreCount, 1])).sorted(by: >) {
                    var times: [Double] = []
                    try data.withUnsafeBytes { raw in
                        let matrix = (raw.baseAddress! + 64).assumingMemoryBound(to: Float.self)
                        // Warm the page cache / mapping once.
                        _ = VectorSearch.scores(matrix: matrix, rows: n, dimension: dimension, query: queryVectors[0], workers: threads)
                        for q in queryVectors {
                            times.append(RetrievalBench.time {
                                let s = VectorSearch.scores(matrix: matrix, rows: n, dimension: dimension, query: q, workers: threads)
                                _ = VectorSearch.topK(s, k: candidates)
                            })
                        }
                        guard !times.isEmpty else { throw ValidationError("--queries must be at least 1") }
                    }
                    times.sort()
                    let median = times[times.count / 2], best = times[0]
                    let scanRate = Double(bytes) / best / 1e9
                    print(String(format: "%9d   %9.1f   %7d   %10.2f (best %6.2f)   %9.2f   %22.2f   %10.0f%%   %10.0f%%",
                                 n, Double(bytes) / 1e6, threads, median * 1e3, best * 1e3, scanRate, copy,
                                 100 * scanRate / copy, 200 * scanRate / copy))
                }
                try? FileManager.default.removeItem(at: url)
            }
            print("goal: the scan streams the matrix at >= 50% of the memory bandwidth of a copy; `scan / copy` counts the copy's")
            print("bytes read + written (STREAM convention), `scan / copy rate` only the bytes copied")
            if passages > 0 { try collectionRun(dir: dir) }
        }
    }

    /// Search latency of a real collection (SQLite + segments) at `passages` passages.
    private func collectionRun(dir: URL) throws {
        // A 1-layer model of the same width: the query embedding is timed apart and excluded below.
        let models = try embeddings.models()
        let c = try DocumentCollection.create(at: dir.appendingPathComponent("collection"), models: models,
                                              compaction: .init(deadShare: nil))
        var rng = SeededGenerator(seed: 29)
        func unit() -> [Float] { embeddings.randomUnitVector(using: &rng) }
        func word() -> String { "w\(rng.next() % 5000)" }
        var inserted = 0.0
        for start in stride(from: 0, to: passages, by: 10_000) {
            let n = min(10_000, passages - start)
            let docs = (start..<start + n).map { i in
                Document(id: "p\(i)", text: (0..<24).map { _ in word() }.joined(separator: " "), metadata: #"{"bucket":\#(i % 100)}"#)
            }
            let vectors = (0..<n).map { _ in unit() }
            inserted += try RetrievalBench.time { try c.add(docs, embeddings: vectors, batchDocuments: 10_000) }
        }
        let s = c.stats()
        print("")
        print("collection: \(passages) passages of \(dimension) dims (synthetic embeddings written straight into the segments, no states; texts of 24 random words of 5000)")
        print(String(format: "insert: %.1f s (%.0f passages/s); disk %.1f MB = %.0f bytes per passage, SQLite %.1f%% of it (%.1f MB)",
                     inserted, Double(passages) / inserted, Double(s.totalBytes) / 1e6, s.bytesPerPassage, s.sqliteShare * 100, Double(s.sqliteBytes) / 1e6))
        // The collection's default search, reranking off: the dense stage is the timed part.
        var options = SearchOptions()
        options.rerank = false
        let queryTexts = (0..<max(1, latencyQueries)).map { _ in (0..<3).map { _ in word() }.joined(separator: " ") }
        // The bare scan of the same number of rows (a plain matrix): the peer of the store's dense stage.
        let matrix = (0..<passages).flatMap { _ in unit() }
        let q0 = unit()
        var bare: [Double] = []
        matrix.withUnsafeBufferPointer { m in
            for _ in 0..<max(1, latencyQueries) {
                bare.append(RetrievalBench.time { _ = VectorSearch.topK(VectorSearch.scores(matrix: m.baseAddress!, rows: passages, dimension: dimension, query: q0), k: options.candidates) })
            }
        }
        bare.sort()
        let bareMedian = Self.percentile(bare, 0.5)
        print(String(format: "bare scan + top-%d of %d rows (a plain in-memory matrix, all cores): p50 %.2f ms, p99 %.2f ms",
                     options.candidates, passages, bareMedian * 1e3, Self.percentile(bare, 0.99) * 1e3))
        print("\(queryTexts.count) queries per row; stage columns are the p50 query's, ms")
        print("search (top \(options.topK), \(options.candidates) candidates per list, no rerank)   p50 ms   p99 ms   filter   dense   lexical   fusion   query emb.   p50 / bare scan p50   dense path (recall@\(options.topK) vs exact)")
        // Each filter two ways: the same filter for every query (from the second query on, its mask comes
        // from the collection's cache of the generation) and a new filter per query of the same shape and
        // selectivity (a bound that differs per query: SQLite evaluates every one).
        typealias Filter = (Int) -> String
        let all: Filter = { _ in #"{"bucket": {"$gte": 0}}"# }, allNew: Filter = { #"{"bucket": {"$gte": -\#($0 + 1)}}"# }
        let tenth: Filter = { _ in #"{"bucket": {"$lt": 10}}"# }, tenthNew: Filter = { #"{"bucket": {"$lt": \#(10 + Double($0 + 1) / 1e6)}}"# }
        let hundredth: Filter = { _ in #"{"bucket": {"$lt": 1}}"# }, hundredthNew: Filter = { #"{"bucket": {"$lt": \#(1 + Double($0 + 1) / 1e6)}}"# }
        let configurations: [(String, SearchMode, Filter?, ANNKind)] = [
            ("dense", .dense, nil, .auto), ("lexical", .lexical, nil, .auto), ("hybrid", .hybrid, nil, .auto),
            ("dense, filter 100%, a new filter each query", .dense, allNew, .auto), ("dense, filter 100%, the same (cached)", .dense, all, .auto),
            ("dense, filter 10%, a new filter each query", .dense, tenthNew, .auto), ("dense, filter 10%, the same (cached)", .dense, tenth, .auto),
            ("dense, filter 1%, a new filter each query", .dense, hundredthNew, .auto), ("dense, filter 1%, the same (cached)", .dense, hundredth, .auto),
            ("hybrid, filter 100%, a new filter each query", .hybrid, allNew, .auto), ("hybrid, filter 10%, a new filter each query", .hybrid, tenthNew, .auto),
            ("hybrid, filter 1%, a new filter each query", .hybrid, hundredthNew, .auto),
            ("dense, --ann int8 (codes + rescore)", .dense, nil, .int8), ("dense, --ann int8, filter 10% (cached)", .dense, tenth, .int8),
            ("dense, --ann binary (codes + rescore)", .dense, nil, .binary), ("dense, --ann binary, filter 10% (cached)", .dense, tenth, .binary),
        ]
        for (label, mode, filterJSON, kind) in configurations {
            if c.annSettings.kind != kind {
                var settings = c.annSettings
                settings.kind = kind
                // The codes rows: the filter's 10,000 matches go through the masked codes pass, not the gather.
                settings.filterExactLimit = kind.codesKind != nil ? 0 : ANNSettings().filterExactLimit
                try c.setANNSettings(settings)
                _ = try c.search(queryTexts[0], options: options)  // the codes are encoded (or the graph built) here, untimed
            }
            var store: [Double] = [], stages: [SearchTimings] = []
            var path = "-"
            var found = 0, wanted = 0
            for (i, q) in queryTexts.enumerated() {
                options.mode = mode
                options.filter = try filterJSON.map { try MetadataFilter.parse(json: $0(i)) }
                options.exact = false
                let r = try c.search(q, options: options)
                if i == 0 && r.hits.count != options.topK { throw CommandLineError("\(label): \(r.hits.count) hits, expected \(options.topK)") }
                if i == 0 { path = r.densePath?.rawValue ?? "-" }
                store.append(r.timings.total - r.timings.queryEmbedding)
                stages.append(r.timings)
                if kind.codesKind != nil && i < 20 {
                    options.exact = true
                    let truth = Set(try c.search(q, options: options).hits.map(\.id))
                    found += r.hits.filter { truth.contains($0.id) }.count
                    wanted += truth.count
                }
            }
            options.exact = false
            let order = store.indices.sorted { store[$0] < store[$1] }
            let p50 = Self.percentile(store, 0.5), p99 = Self.percentile(store, 0.99)
            let m = stages[order[Self.rank(order.count, 0.5)]]
            let recall = wanted > 0 ? String(format: " (%.3f)", Double(found) / Double(wanted)) : ""
            print(label.padding(toLength: 52, withPad: " ", startingAt: 0) + String(format: " %6.2f   %6.2f   %6.2f   %5.2f   %7.2f   %6.2f   %10.2f   %8.2fx",
                         p50 * 1e3, p99 * 1e3, m.filter * 1e3, m.retrieval * 1e3,
                         m.lexical * 1e3, m.fusion * 1e3, m.queryEmbedding * 1e3, p50 / bareMedian) + "   \(path)\(recall)")
        }
        print("store ms = the search's total minus the query embedding (filter in SQLite + masked dense scan / BM25 in FTS5 + fusion + hit texts)")
    }

    /// The index of the `q` quantile (nearest rank) of `n` sorted values.
    static func rank(_ n: Int, _ q: Double) -> Int { max(0, min(n - 1, Int((Double(n) * q).rounded(.up)) - 1)) }

    /// The `q` quantile (nearest rank) of `values`.
    static func percentile(_ values: [Double], _ q: Double) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[rank(sorted.count, q)]
    }

    /// memcpy of `bytes` bytes, best of 5, in GB/s counting read + write.
    private func copyBandwidth(bytes: Int) -> Double {
        let a = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        let b = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { a.deallocate(); b.deallocate() }
        memset(a, 1, bytes)
        memset(b, 2, bytes)
        var best = Double.infinity
        for _ in 0..<5 { best = min(best, RetrievalBench.time { memcpy(b, a, bytes) }) }
        return 2 * Double(bytes) / best / 1e9
    }
}
