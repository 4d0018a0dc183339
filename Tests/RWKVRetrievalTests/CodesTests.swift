import Foundation
import RWKVCheckpoint
import Testing
@testable import RWKVRetrieval
import RWKVTestSupport

/// Compressed embedding codes (issue 11): the codes themselves against plain arithmetic, and the
/// collection's `int8` / `binary` dense paths against brute force over the same rows.
@Suite struct CodesTests {
    static let n = ANNTests.n

    @Test func int8ScoresApproximateTheDotProductWithinTheQuantisationBound() {
        let gen = SyntheticEmbeddings(dimension: 256, clusters: 8, seed: 5)
        let rows = 300
        let matrix = gen.vectors(0, count: rows)
        var codes = EmbeddingCodes(kind: .int8, dimension: 256)
        matrix.withUnsafeBufferPointer { codes.append($0.baseAddress!, rows: rows) }
        #expect(codes.count == rows && codes.bytes == rows * (256 + 4))
        let q = gen.queries(1)[0]
        let approx = codes.scores(query: q)
        var worst: Float = 0
        for r in 0..<rows {
            let exact = zip(matrix[(r * 256)..<((r + 1) * 256)], q).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            worst = max(worst, abs(approx[r] - exact))
        }
        // Each value is off by at most half a step (max|x| / 254) in each factor; for unit vectors of
        // 256 values the sum stays far under 0.02 (measured: 0.0017).
        #expect(worst < 0.02, "int8 score error \(worst)")
    }

    @Test func binaryScoresAreTheSignAgreement() {
        let d = 130  // not a multiple of 64: the last word is partial
        var rng = SeededGenerator(seed: 9)
        let matrix = (0..<(20 * d)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
        var codes = EmbeddingCodes(kind: .binary, dimension: d)
        matrix.withUnsafeBufferPointer { codes.append($0.baseAddress!, rows: 20) }
        #expect(codes.bytesPerVector == 24)
        let q = (0..<d).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
        let scores = codes.scores(query: q)
        for r in 0..<20 {
            let agree = (0..<d).filter { (matrix[r * d + $0] > 0) == (q[$0] > 0) }.count
            #expect(scores[r] == Float(2 * agree - d), "row \(r)")
        }
    }

    @Test(arguments: [ANNKind.int8, .binary])
    func recallAgainstBruteForceWithFiltersNeverShort(kind: ANNKind) throws {
        let dir = try TemporaryDirectory()
        // filterExactLimit 0: every filtered query goes through the masked codes pass.
        let (c, gen) = try ANNTests.collection(dir, settings: ANNSettings(kind: kind, filterExactLimit: 0))
        let path: DensePath = kind == .int8 ? .int8Rescored : .binaryRescored
        var total = 0.0
        let queries = gen.queries(50)
        for q in queries {
            let got = try c.nearestWithPath(to: q, k: 10)
            #expect(got.path == path && got.hits.count == 10)
            total += ANNTests.recall(got.hits, try c.nearest(to: q, k: 10, exact: true))
        }
        // Measured here: 1.000 for both (int8 x2, binary x20).
        #expect(total / Double(queries.count) >= 0.95, "\(kind) recall@10 \(total / Double(queries.count))")
        for (share, k) in [(1, 10), (1, 100), (10, 10), (10, 200)] {
            let filter = try MetadataFilter.parse(json: #"{"b": {"$lt": \#(share)}}"#)
            for q in queries.prefix(5) {
                let got = try c.nearestWithPath(to: q, k: k, filter: filter)
                #expect(got.path == path)
                #expect(got.hits.count == min(k, Self.n * share / 100), "\(share)% k=\(k): \(got.hits.count)")
                #expect(got.hits.allSatisfy { Int($0.id.dropFirst())! % 100 < share })
            }
        }
        let stats = try #require(c.stats().ann)
        #expect(stats.kind == kind.rawValue && stats.elements == Self.n && stats.fileBytes == 0)
        let perRow = kind == .int8 ? c.dimension + 4 : c.dimension / 8
        #expect(stats.memoryBytes >= Self.n * perRow, "\(stats.memoryBytes)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("c/segments").path + "/ann-000001.hnsw"), "codes build no graph")
    }

    @Test func codesFollowAddsDeletesAndSettings() throws {
        let dir = try TemporaryDirectory()
        let (c, gen) = try ANNTests.collection(dir, settings: ANNSettings(kind: .int8))
        let queries = gen.queries(4)
        _ = try c.nearest(to: queries[0], k: 1)
        #expect(c.stats().ann?.origin == "built (encoded at the first search)")
        // An add after the codes exist: appended, found first by its own vector.
        try c.add([Document(id: "extra", text: "extra", metadata: #"{"b": 0}"#)], embeddings: [queries[1]])
        #expect(c.stats().ann?.elements == Self.n + 1)
        #expect(try c.nearest(to: queries[1], k: 1).first?.id == "extra")
        // Deletions are masked (never returned), counted dead, and past 20% the codes are re-encoded.
        let few = (0..<Self.n).filter { $0 % 10 == 0 }.map { "d\($0)" }
        try c.delete(ids: few)
        #expect(c.stats().ann?.deleted == few.count)
        let gone = Set(few)
        let hits = try c.nearest(to: queries[2], k: 50)
        #expect(hits.count == 50 && hits.allSatisfy { !gone.contains($0.id) })
        let more = (0..<Self.n).filter { $0 % 10 == 1 || $0 % 10 == 2 }.map { "d\($0)" }
        try c.delete(ids: more)
        let after = try #require(c.stats().ann)
        #expect(after.deleted == 0 && after.elements == Self.n + 1 - few.count - more.count, "\(after)")
        #expect(after.origin == "built (re-encoded without \(few.count + more.count) dead rows)", "\(String(describing: after.origin))")
        // Compaction moves rows, not passage ids: the codes stay right.
        try c.compact()
        let truth = try c.nearest(to: queries[3], k: 10, exact: true)
        #expect(ANNTests.recall(try c.nearest(to: queries[3], k: 10), truth) >= 0.9)
        // Another kind re-encodes; a non-codes kind drops them.
        try c.setANNSettings(ANNSettings(kind: .binary, oversample: 30))
        #expect(try c.nearestWithPath(to: queries[3], k: 10).path == .binaryRescored)
        #expect(c.stats().ann?.origin == "built (kind changed)")
        try c.setANNSettings(ANNSettings(kind: .none))
        #expect(try c.nearestWithPath(to: queries[3], k: 10).path == .exact)
        #expect(c.codesStats() == nil)
        // Settings persist; a fresh process encodes at its first search.
        try c.setANNSettings(ANNSettings(kind: .int8, oversample: 3))
        let r = try DocumentCollection.open(at: dir.path("c"), models: try Models.tiny)
        #expect(r.annSettings.kind == .int8 && r.annSettings.oversample == 3)
        #expect(r.stats().ann?.origin == "not encoded yet (at the first search; codes are not persisted)")
        #expect(try r.nearestWithPath(to: queries[3], k: 10).hits.map(\.id) == (try c.nearest(to: queries[3], k: 10)).map(\.id))
        #expect(throws: RetrievalError.self) { try c.setANNSettings(ANNSettings(kind: .int8, oversample: 0)) }
    }
}
