import Foundation
import Testing
@testable import RWKVRetrieval
import RWKVTestSupport

/// A reader in this process follows what writer processes (the CLI) commit through the passage deletion
/// log: deletions and replacements are applied as a delta; only a compaction reloads the whole table.
@Suite(.serialized) struct ReaderDeltaTests {

    /// The reader's view equals a fresh open's: the same documents, each with the same passages.
    static func expectSameView(_ reader: DocumentCollection, _ url: URL, _ label: String) throws {
        let fresh = try DocumentCollection.open(at: url, models: nil)
        #expect(reader.list().map(\.id) == fresh.list().map(\.id), "\(label)")
        #expect(reader.passageCount == fresh.passageCount, "\(label)")
        for d in fresh.list() {
            #expect(reader.passages(of: d.id) == fresh.passages(of: d.id), "\(label): \(d.id)")
            #expect(reader.embedding(id: d.id) == fresh.embedding(id: d.id), "\(label): \(d.id)")
        }
    }

    @Test func deletionsAreADeltaCompactionReloads() async throws {
        let dir = try TemporaryDirectory()
        let col = dir.path("col")
        try dir.write("a.jsonl", (0..<6).map { #"{"id": "d\#($0)", "text": "\#(sampleTexts[$0])", "metadata": {"n": \#($0)}}"# }.joined(separator: "\n"))
        var r = try await runCLI(["index", "--collection", col.path, "--model", Fixtures.tinyModelPath, "--reranker", Fixtures.tinyRerankerPath, dir.path("a.jsonl").path])
        #expect(r.status == 0, "\(r.stderr)")
        let reader = try DocumentCollection.open(at: col, models: nil)
        #expect(reader.count == 6 && reader.fullReloads == 1)

        // A delete by filter in another process: the reader drops exactly those passages, no reload.
        r = try await runCLI(["delete", "--collection", col.path, "--where", #"{"n": {"$lt": 2}}"#])
        #expect(r.status == 0 && r.stdout.contains("deleted 2"), "\(r.stdout) \(r.stderr)")
        #expect(reader.count == 4 && !reader.contains(id: "d0") && !reader.contains(id: "d1"))
        #expect(reader.fullReloads == 1, "a deletion is applied as a delta")
        try Self.expectSameView(reader, col, "after delete")

        // A replacement (old passages removed, new ones added in one commit) and a new document.
        try dir.write("b.jsonl", [#"{"id": "d2", "text": "A replaced text about walruses."}"#, #"{"id": "new", "text": "A new one."}"#].joined(separator: "\n"))
        let oldPassages = reader.passages(of: "d2").map(\.id)
        r = try await runCLI(["index", "--collection", col.path, dir.path("b.jsonl").path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(reader.count == 5 && reader.fullReloads == 1)
        #expect(Set(reader.passages(of: "d2").map(\.id)).isDisjoint(with: oldPassages))
        #expect(try reader.search("walruses", options: .init(topK: 2, rerank: false, mode: .lexical)).hits.map(\.id) == ["d2"])
        try Self.expectSameView(reader, col, "after replace")

        // Compaction repoints every passage: one full reload, and the same view.
        r = try await runCLI(["compact", "--collection", col.path])
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        #expect(reader.count == 5 && reader.fullReloads == 2)
        try Self.expectSameView(reader, col, "after compact")

        // After the compaction emptied the log, deletions are deltas again.
        r = try await runCLI(["delete", "--collection", col.path, "d3"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(reader.count == 4 && !reader.contains(id: "d3") && reader.fullReloads == 2)
        try Self.expectSameView(reader, col, "delete after compact")

        // A reader that last looked before a compaction and a later delete still ends up exact.
        let late = try DocumentCollection.open(at: col, models: nil)
        r = try await runCLI(["delete", "--collection", col.path, "d4"])
        r = try await runCLI(["compact", "--collection", col.path])
        r = try await runCLI(["delete", "--collection", col.path, "d5"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(late.list().map(\.id) == ["d2", "new"] && late.fullReloads == 2)
        try Self.expectSameView(late, col, "a reader behind a compaction")
    }
}
