import ArgumentParser
import Foundation
import RWKVKernels
import RWKVRetrieval
import RWKVCheckpoint

/// `rwkv-emb bench search`: the retrieval stage alone (exact cosine scan + top-k over a memory-mapped
/// embedding matrix, as a collection runs it) against the memory bandwidth of a plain copy.
struct BenchSearch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Retrieval-stage latency at 10k and 100k documents vs memory-copy bandwidth.")

    @Option(help: "Collection sizes (comma separated).")
    var documents: String = "10000,100000"

    @Option(help: "Embedding dimension (768 = Tiny).")
    var dimension: Int = 768

    @Option(help: "Candidates returned (top-k of the scan).")
    var candidates: Int = 50

    @Option(help: "Timed queries per size (the median is reported).")
    var queries: Int = 30

    func run() throws {
        RetrievalBench.debugNote()
        let sizes = documents.split(separator: ",").compactMap { Int($0) }
        let dir = try RetrievalBench.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SeededGenerator(seed: 11)
        func normalised() -> [Float] {
            var v = (0..<dimension).map { _ in Float(Int64(rng.next() >> 40) - (1 << 23)) }
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for i in v.indices { v[i] /= n }
            return v
        }
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
