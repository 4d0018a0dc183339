import ArgumentParser
import Foundation
import RWKVCheckpoint
import RWKVRetrieval
#if canImport(Glibc)
import Glibc
#endif

/// `rwkv-emb bench compact`: compaction speed against a plain file copy of the same bytes.
struct BenchCompact: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Compaction throughput vs a plain copy (read + write + fsync) of the same bytes.",
        discussion: """
            A collection of --passages passages (synthetic embeddings written straight into its segments, no \
            states), of which --delete-share are deleted; then `compact` rewrites the live rows into a new \
            segment. The peer copies the same number of bytes from the old segment file into a new file in \
            32 MiB pread/pwrite steps and fsyncs it.
            """)

    @Option(help: "Passages.")
    var passages: Int = 100_000

    @OptionGroup var embeddings: SyntheticEmbeddingOptions

    @Option(help: "Share of the passages deleted before compacting.")
    var deleteShare: Double = 0.5

    func run() async throws {
        RetrievalBench.debugNote()
        RetrievalBench.machineNote()
        let dir = try RetrievalBench.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let dimension = embeddings.dimension
        let models = try embeddings.models()
        let c = try DocumentCollection.create(at: dir.appendingPathComponent("c"), models: models, compaction: .init(deadShare: nil))
        var rng = SeededGenerator(seed: 3)
        for start in stride(from: 0, to: passages, by: 10_000) {
            let n = min(10_000, passages - start)
            let docs = (start..<start + n).map { Document(id: "p\($0)", text: "passage \($0)") }
            let vectors = (0..<n).map { _ in embeddings.randomVector(using: &rng) }
            try c.add(docs, embeddings: vectors, batchDocuments: 10_000)
        }
        let doomed = (0..<passages).filter { Double($0 % 100) < deleteShare * 100 }.map { "p\($0)" }
        try c.delete(ids: doomed)
        let before = c.stats()
        // The same page-cache state for both sides: the peer reads a file just written (hot), so the old
        // segments are read once here (without it the first run read part of them from disk: 0.27 s of
        // copy against the peer's 0.11 s, most of it waiting on reads).
        let segments = dir.appendingPathComponent("c/segments")
        for name in try FileManager.default.contentsOfDirectory(atPath: segments.path) {
            _ = try Data(contentsOf: segments.appendingPathComponent(name)).count
        }
        let report = try c.compact()
        let unlinkSeconds = c.waitForFileRemovals()
        let rebuildSeconds = RetrievalBench.time { c.waitForIndexRebuild() }
        let after = c.stats()
        // The peer: the same number of bytes copied from a file (the new segment: the old one is unlinked).
        let source = dir.appendingPathComponent("c/segments").appendingPathComponent(
            try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("c/segments").path).filter { $0.hasSuffix(".emb") }.sorted().last!)
        // Three copies, each to a new file (the disk's speed varies by 2x between runs here): the median.
        var copies: [Double] = []
        for i in 0..<3 {
            let target = dir.appendingPathComponent("copy\(i)")
            copies.append(try plainCopy(from: source.path, to: target.path, bytes: report.bytesCopied))
            try? FileManager.default.removeItem(at: target)
        }
        let copySeconds = copies.sorted()[1]
        // The ANN rebuild (a graph build, when the index holds enough deleted labels) runs in the
        // background after the call returns; it is reported apart from the copy.
        let compactRate = Double(report.bytesCopied) / report.seconds / 1e6
        let copyRate = Double(report.bytesCopied) / copySeconds / 1e6
        print("collection: \(passages) passages x \(dimension) fp32 (synthetic embeddings, no states); \(doomed.count) deleted")
        print(String(format: "before: %d segment bytes, %d dead (%.0f%%); after: %d segment bytes, %d dead", before.segmentBytes, before.deadBytes,
                     100 * Double(before.deadBytes) / Double(max(1, before.segmentBytes)), after.segmentBytes, after.deadBytes))
        print(String(format: "compact: %d passages moved, %.1f MB copied in %.3f s = %.0f MB/s (plan, copy, fsync, CRC, transaction, unlink)",
                     report.passagesMoved, Double(report.bytesCopied) / 1e6, report.seconds, compactRate))
        print(String(format: "  plan %.3f s, copy + fsync + CRC %.3f s, switch transaction after the copy %.3f s (prepared during it), view %.3f s, the rest %.3f s",
                     report.planSeconds, report.copySeconds, report.switchSeconds, report.viewSeconds,
                     report.seconds - report.planSeconds - report.copySeconds - report.switchSeconds - report.viewSeconds))
        print(String(format: "then, in the background, the old segment files unlinked in %.3f s", unlinkSeconds))
        print(report.annRebuildStarted
              ? String(format: "then, in the background, the ANN index rebuilt without its deleted labels: %.3f s", rebuildSeconds)
              : "no ANN rebuild (no index, or its deleted labels under 20%)")
        print(String(format: "plain copy of the same bytes (pread/pwrite 32 MiB + fsync), median of 3 (%.3f, %.3f, %.3f s): %.3f s = %.0f MB/s",
                     copies[0], copies[1], copies[2], copySeconds, copyRate))
        print(String(format: "compaction / plain copy: %.1f%% (goal >= 50%%)", 100 * compactRate / copyRate))
    }

    private func plainCopy(from: String, to: String, bytes: Int) throws -> Double {
        let input = open(from, O_RDONLY), output = open(to, O_RDWR | O_CREAT | O_TRUNC, 0o644)
        guard input >= 0, output >= 0 else { throw CommandLineError("cannot open \(from) / \(to)") }
        defer { close(input); close(output) }
        let step = 32 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: step, alignment: 64)
        defer { buffer.deallocate() }
        return RetrievalBench.time {
            var done = 0
            while done < bytes {
                let n = pread(input, buffer, min(step, bytes - done), off_t(done))
                if n <= 0 { break }
                _ = pwrite(output, buffer, n, off_t(done))
                done += n
            }
            fsync(output)
        }
    }
}
