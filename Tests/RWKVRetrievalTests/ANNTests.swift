import Foundation
import Testing
@testable import RWKVRetrieval
import RWKVTestSupport

/// The HNSW index of large collections (issue 11), against brute force over the same rows.
@Suite struct ANNTests {
    static let n = 4000

    /// A collection of `n` clustered vectors (one passage per document; metadata `b` = i % 100).
    static func collection(_ dir: TemporaryDirectory, settings: ANNSettings = ANNSettings(kind: .hnsw)) throws
        -> (DocumentCollection, SyntheticEmbeddings) {
        let c = try DocumentCollection.create(at: dir.path("c"), models: try Models.tiny)
        try c.setANNSettings(settings)
        let gen = SyntheticEmbeddings(dimension: c.dimension, clusters: 40, seed: 11)
        let flat = gen.vectors(0, count: n)
        let d = c.dimension
        let docs = (0..<n).map { Document(id: "d\($0)", text: "document \($0)", metadata: #"{"b": \#($0 % 100)}"#) }
        try c.add(docs, embeddings: (0..<n).map { Array(flat[($0 * d)..<(($0 + 1) * d)]) })
        return (c, gen)
    }

    static func recall(_ got: [(id: String, passage: Int, score: Float)], _ truth: [(id: String, passage: Int, score: Float)]) -> Double {
        guard !truth.isEmpty else { return 1 }
        let t = Set(truth.map(\.id))
        return Double(got.filter { t.contains($0.id) }.count) / Double(truth.count)
    }

    @Test func recallAt10AgainstBruteForce() throws {
        let dir = try TemporaryDirectory()
        let (c, gen) = try Self.collection(dir)
        var total = 0.0
        let queries = gen.queries(100)
        for q in queries {
            let approx = try c.nearestWithPath(to: q, k: 10)
            #expect(approx.path == .hnsw)
            #expect(approx.hits.count == 10)
            let exact = try c.nearestWithPath(to: q, k: 10, exact: true)
            #expect(exact.path == .exact)
            total += Self.recall(approx.hits, exact.hits)
        }
        let recall = total / Double(queries.count)
        #expect(recall >= 0.95, "recall@10 \(recall)")
        let stats = c.stats().ann
        #expect(stats?.kind == "hnsw" && stats?.elements == Self.n && stats?.settings.m == 16)
        #expect((stats?.fileBytes ?? 0) > Self.n * c.dimension * 4, "the index is saved with the segments")
        // auto below its threshold: the exact scan.
        try c.setANNSettings(ANNSettings(kind: .auto, threshold: Self.n + 1))
        #expect(try c.nearestWithPath(to: queries[0], k: 10).path == .exact)
        try c.setANNSettings(ANNSettings(kind: .auto, threshold: Self.n))
        #expect(try c.nearestWithPath(to: queries[0], k: 10).path == .hnsw)
    }

    /// Filters of 1% to 50% selectivity, through the exact gather and the widened index search:
    /// always min(k, matches) results, all matching, with the brute-force ones found.
    @Test func filteredQueriesNeverUnderReturn() throws {
        let dir = try TemporaryDirectory()
        // A low exact limit so that the index path runs for every filter here but the 1% one.
        let (c, gen) = try Self.collection(dir, settings: ANNSettings(kind: .hnsw, filterExactLimit: 50))
        var paths = Set<DensePath>()
        for (share, k) in [(1, 10), (1, 100), (5, 10), (10, 10), (10, 50), (50, 10), (2, 200)] {
            let filter = try MetadataFilter.parse(json: #"{"b": {"$lt": \#(share)}}"#)
            let matches = Self.n * share / 100
            var total = 0.0
            for q in gen.queries(20) {
                let got = try c.nearestWithPath(to: q, k: k, filter: filter)
                let truth = try c.nearestWithPath(to: q, k: k, filter: filter, exact: true)
                paths.insert(got.path)
                #expect(got.hits.count == min(k, matches), "\(share)% k=\(k): \(got.hits.count) via \(got.path)")
                #expect(got.hits.allSatisfy { Int($0.id.dropFirst())! % 100 < share })
                total += Self.recall(got.hits, truth.hits)
            }
            #expect(total / 20 >= 0.9, "\(share)% k=\(k): recall \(total / 20)")
        }
        #expect(paths.contains(.hnswFiltered) && paths.contains(.exactFiltered), "\(paths)")
        // A filter matching nothing: nothing, not an error.
        #expect(try c.nearest(to: gen.queries(1)[0], k: 5, filter: try MetadataFilter.parse(json: #"{"b": 1000}"#)).isEmpty)
    }

    /// A filter that every passage matches restricts nothing: the unfiltered index path runs (not the
    /// filtered widening) with the same hits; once one passage does not match, the filter is a mask again.
    @Test func filterMatchingEveryPassageTakesTheUnfilteredPath() throws {
        let dir = try TemporaryDirectory()
        let (c, gen) = try Self.collection(dir, settings: ANNSettings(kind: .hnsw, filterExactLimit: 50))
        let everyone = try MetadataFilter.parse(json: #"{"b": {"$gte": 0}}"#)
        let q = gen.queries(1)[0]
        let plain = try c.nearestWithPath(to: q, k: 10)
        let filtered = try c.nearestWithPath(to: q, k: 10, filter: everyone)
        #expect(filtered.path == .hnsw)
        #expect(filtered.hits.map(\.id) == plain.hits.map(\.id))
        let search = try c.search("document", options: SearchOptions(topK: 5, rerank: false, mode: .dense, filter: everyone))
        #expect(search.matchingPassages == Self.n && search.densePath == .hnsw)
        // One document outside the filter: the rest still match, through the filtered path.
        try c.add([Document(id: "outside", text: "outside", metadata: #"{"b": -1}"#)], embeddings: [q])
        let after = try c.nearestWithPath(to: q, k: 10, filter: everyone)
        #expect(after.path == .hnswFiltered)
        #expect(!after.hits.contains { $0.id == "outside" } && after.hits.count == 10)
        #expect(try c.nearest(to: q, k: 1).first?.id == "outside")
    }

    @Test func deletionsHonouredAndCompactionRebuilds() throws {
        let dir = try TemporaryDirectory()
        let (c, gen) = try Self.collection(dir)
        let deleted = Set((0..<Self.n).filter { $0 % 3 == 0 }.map { "d\($0)" })
        try c.delete(ids: Array(deleted))
        for q in gen.queries(30) {
            let got = try c.nearestWithPath(to: q, k: 10)
            #expect(got.hits.count == 10 && got.hits.allSatisfy { !deleted.contains($0.id) })
            #expect(got.path == .hnsw || got.path == .exactFallback)
            #expect(Self.recall(got.hits, try c.nearest(to: q, k: 10, exact: true)) >= 0.7)
        }
        #expect(c.stats().ann?.deleted == deleted.count)
        // Deletions seen by a fresh process too (the saved file may predate them).
        do {
            let r = try DocumentCollection.open(at: dir.path("c"), models: try Models.tiny)
            let got = try r.nearest(to: gen.queries(1)[0], k: 10)
            #expect(got.count == 10 && got.allSatisfy { !deleted.contains($0.id) })
        }
        let report = try c.compact()
        #expect(report.annRebuildStarted, "a third of the graph's labels are deleted: over the 20% rebuild share")
        // Searches keep working on the old graph while the new one builds.
        let during = try c.nearest(to: gen.queries(1)[0], k: 10)
        #expect(during.count == 10 && during.allSatisfy { !deleted.contains($0.id) })
        c.waitForIndexRebuild()
        let after = c.stats().ann
        #expect(after?.rebuilding == false)
        #expect(after?.deleted == 0 && after?.elements == Self.n - deleted.count, "\(String(describing: after))")
        #expect(after?.origin?.hasPrefix("built (compaction)") == true, "\(String(describing: after?.origin))")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path("c/segments").path).filter { $0.hasPrefix("ann-") }
        #expect(names.count == 1, "the old index file is removed: \(names)")
    }

    @Test func compactionKeepsAGraphWithFewDeletedLabels() throws {
        let dir = try TemporaryDirectory()
        let (c, gen) = try Self.collection(dir)
        let deleted = Set((0..<Self.n).filter { $0 % 10 == 0 }.map { "d\($0)" })
        try c.delete(ids: Array(deleted))
        _ = try c.nearest(to: gen.queries(1)[0], k: 10)  // the graph catches up: its deleted labels marked
        let report = try c.compact()
        #expect(!report.annRebuildStarted, "10% deleted labels is under the 20% rebuild share")
        #expect(report.passagesMoved == Self.n - deleted.count)
        let after = c.stats().ann
        #expect(after?.deleted == deleted.count && after?.elements == Self.n, "\(String(describing: after))")
        // The kept graph's labels are passage ids, which compaction does not change: still correct.
        for q in gen.queries(10) {
            let got = try c.nearestWithPath(to: q, k: 10)
            #expect(got.path == .hnsw && got.hits.count == 10 && got.hits.allSatisfy { !deleted.contains($0.id) })
            #expect(Self.recall(got.hits, try c.nearest(to: q, k: 10, exact: true)) >= 0.7)
        }
    }

    @Test func indexSurvivesReopenAndBadFilesAreRebuilt() throws {
        let dir = try TemporaryDirectory()
        let queries: [[Float]]
        var before: [[String]] = []
        do {
            let (c, gen) = try Self.collection(dir)
            queries = gen.queries(10)
            before = try queries.map { try c.nearest(to: $0, k: 10).map(\.id) }
            // A few more after the save: caught up at the next open, not lost.
            try c.add([Document(id: "extra", text: "extra")], embeddings: [queries[0]])
        }
        let url = dir.path("c")
        func reopen() throws -> DocumentCollection {
            let c = try DocumentCollection.open(at: url, models: try Models.tiny, writable: true)
            _ = try c.nearest(to: queries[0], k: 1)
            return c
        }
        do {
            let c = try reopen()
            #expect(c.stats().ann?.origin == "file")
            #expect(try c.nearest(to: queries[0], k: 1).first?.id == "extra")
            #expect(try queries.dropFirst().map { try c.nearest(to: $0, k: 10).map(\.id) } == Array(before.dropFirst()))
        }
        let segments = url.appendingPathComponent("segments")
        let file = try #require(try FileManager.default.contentsOfDirectory(atPath: segments.path).first { $0.hasPrefix("ann-") })
        // One flipped byte: the checksum refuses the file; the index is rebuilt from the rows.
        let path = segments.appendingPathComponent(file)
        var bytes = try Data(contentsOf: path)
        bytes[bytes.count / 2] ^= 0x40
        try bytes.write(to: path)
        do {
            let c = try reopen()
            #expect(c.stats().ann?.origin?.hasPrefix("built (index file fails its checksum)") == true, "\(String(describing: c.stats().ann?.origin))")
            #expect(try c.nearest(to: queries[0], k: 1).first?.id == "extra")
            #expect(c.stats().ann?.elements == Self.n + 1)
        }
        // A truncated or missing file: rebuilt likewise (never loaded).
        let saved = try #require(try FileManager.default.contentsOfDirectory(atPath: segments.path).first { $0.hasPrefix("ann-") })
        try Data().write(to: segments.appendingPathComponent(saved))
        do {
            let c = try reopen()
            #expect(c.stats().ann?.origin?.hasPrefix("built (index file") == true)
            #expect(try c.nearest(to: queries[1], k: 10).count == 10)
        }
        for f in try FileManager.default.contentsOfDirectory(atPath: segments.path) where f.hasPrefix("ann-") {
            try FileManager.default.removeItem(at: segments.appendingPathComponent(f))
        }
        let c = try reopen()
        #expect(c.stats().ann?.origin?.hasPrefix("built (index file missing)") == true, "\(String(describing: c.stats().ann?.origin))")
        #expect(try c.nearest(to: queries[0], k: 1).first?.id == "extra")
    }

    /// kill -9 while `index --ann hnsw` adds documents and saves the index (the CommandLineTests style):
    /// every reported document is found, the collection opens and searches through the index, and no
    /// index file is left that the manifest does not name.
    @Test func survivesSIGKILLWhileUpdatingTheIndex() throws {
        guard let exe = cliExecutable() else { throw CLIMissing() }
        let dir = try TemporaryDirectory()
        let col = dir.path("col")
        let models = try Models.tiny
        var generator = SystemRandomNumberGenerator()
        var reported = Set<String>()
        var kills = 0
        for round in 0..<3 {
            let docs = (0..<30).map { i in #"{"id": "r\#(round)-\#(i)", "text": "round \#(round) document \#(i) about \#(sampleTexts[i % sampleTexts.count])"}"# }
            try dir.write("docs\(round).jsonl", docs.joined(separator: "\n"))
            let run = try runKilled(exe, ["index", "--collection", col.path, "--model", Fixtures.embeddingCheckpoint("tiny-bf16").path,
                                          "--reranker", Fixtures.rerankerCheckpoint("tiny-bf16").path, "--ann", "hnsw", "--no-states",
                                          "--batch-documents", "\(2 + round)", "--log-documents", dir.path("docs\(round).jsonl").path],
                                    killAfterAdded: Int.random(in: 2...20, using: &generator), maxDelay: 100_000, generator: &generator)
            if run.killed { kills += 1 }
            for line in run.lines where line.hasPrefix("added ") {
                reported.insert(String(line.split(separator: " ", maxSplits: 1)[1]))
            }
            let c = try DocumentCollection.open(at: col, models: models, writable: true)
            #expect(c.annSettings.kind == .hnsw)
            for id in reported { #expect(c.embedding(id: id) != nil, "round \(round): \(id) reported but missing") }
            let probe = try #require(reported.first)
            let q = try #require(c.embedding(id: probe))
            let found = try c.nearestWithPath(to: q, k: 5)
            #expect(found.path == .hnsw && found.hits.count == min(5, c.count), "round \(round): \(found.path)")
            #expect(found.hits.first?.id == probe)
            #expect(c.stats().ann?.elements == c.passageCount)
            let annFiles = try FileManager.default.contentsOfDirectory(atPath: col.appendingPathComponent("segments").path).filter { $0.hasPrefix("ann-") }
            #expect(annFiles.count <= 1 && annFiles.allSatisfy { $0.hasSuffix(".hnsw") }, "round \(round): \(annFiles)")
        }
        #expect(kills >= 2, "the rounds should be killed mid-run (\(kills))")
    }
}
