import Foundation
import Testing
import EmbeddingRWKV
import RWKVRetrieval
import RWKVTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The `rwkv-emb` collection commands, run as real child processes.
@Suite(.serialized) struct CommandLineTests {
    static let model = Fixtures.embeddingCheckpoint("tiny-bf16").path
    static let reranker = Fixtures.rerankerCheckpoint("tiny-bf16").path

    @Test func indexFilesJSONLAndStdinThenSearchListDeleteStats() async throws {
        let dir = try TemporaryDirectory()
        try dir.write("docs/a.txt", sampleTexts[0])
        try dir.write("docs/sub/b.txt", sampleTexts[1])
        try dir.write("docs/skip.bin", "excluded")
        try dir.write("more.jsonl", #"{"id": "j1", "title": "Planets", "text": "\#(sampleTexts[10])", "metadata": {"k": 1}}"# + "\n")
        let col = dir.path("col").path
        let docs = dir.path("docs").path, jsonl = dir.path("more.jsonl").path
        var r = try await runCLI(["index", "--collection", col, "--model", Self.model, "--reranker", Self.reranker,
                            "--precision", "int8", "--exclude", "*.bin", "--log-documents", docs, jsonl, "-"],
                           stdin: sampleTexts[11])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.filter { $0.hasPrefix("added ") }.count == 4, "\(r.stdout)")
        #expect(lines.contains("added \(docs)/a.txt") && lines.contains("added j1"))
        #expect(lines.contains("added \(Document.contentID(sampleTexts[11]))"))
        #expect(r.stderr.contains("progress: 4/4 documents"))

        // Unchanged on the second run; models come from the manifest.
        r = try await runCLI(["index", "--collection", col, "--exclude", "*.bin", docs])
        #expect(r.status == 0 && r.stdout.contains("2 unchanged"), "\(r.stdout) \(r.stderr)")

        r = try await runCLI(["search", "--collection", col, "--json", "--top-k", "2", "largest planet"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let results = try #require(object?["hits"] as? [[String: Any]])
        #expect(results.count == 2)
        #expect(results.allSatisfy { $0["rerank_mode"] as? String == "offline" })
        #expect((object?["timings"] as? [String: Any])?["rerank_ms"] != nil)
        #expect(object?["query"] as? String == "largest planet" && object?["mode"] as? String == "hybrid")

        r = try await runCLI(["search", "--collection", col, "--no-rerank", "capital"])
        #expect(r.status == 0 && r.stdout.contains("cosine") && r.stdout.contains("time: query embedding"))

        r = try await runCLI(["list", "--collection", col])
        #expect(r.stdout.split(separator: "\n").count == 4)
        r = try await runCLI(["delete", "--collection", col, "j1"])
        #expect(r.status == 0 && r.stdout.contains("deleted 1"))
        r = try await runCLI(["delete", "--collection", col, "nope"])
        #expect(r.status != 0 && r.stderr.contains("no document nope"))
        r = try await runCLI(["stats", "--collection", col])
        #expect(r.status == 0 && r.stdout.contains("documents: 3") && r.stdout.contains("WKV int8"), "\(r.stdout)")
    }

    @Test func clearErrors() async throws {
        let dir = try TemporaryDirectory()
        let col = dir.path("col").path
        var r = try await runCLI(["search", "--collection", dir.path("nothing").path, "q"])
        #expect(r.status != 0 && r.stderr.contains("is not a collection") && r.stderr.contains("create one with `rwkv-emb index --collection"), "\(r.stderr)")
        try dir.write("bad.jsonl", #"{"text": "ok"}"# + "\n" + #"{"txt": "typo"}"# + "\n")
        r = try await runCLI(["index", "--collection", col, "--model", Self.model, "--reranker", Self.reranker, dir.path("bad.jsonl").path])
        #expect(r.status != 0 && r.stderr.contains("bad.jsonl:2: missing or non-string \"text\""), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: col))  // nothing written
        r = try await runCLI(["index", "--collection", col, "--model", Self.model, "--reranker", Self.reranker, dir.path("missing.txt").path])
        #expect(r.status != 0 && r.stderr.contains("missing.txt: no such file or directory"))
        r = try await runCLI(["index", "--collection", col, "--model", Self.model, "--reranker", Self.reranker, "-"], stdin: "hello")
        #expect(r.status == 0)
        r = try await runCLI(["index", "--collection", col, "--model", Fixtures.embeddingCheckpoint("small-fp16").path,
                        "--reranker", Fixtures.rerankerCheckpoint("small-fp16").path, "-"], stdin: "other")
        #expect(r.status != 0 && r.stderr.contains("model mismatch"), "\(r.stderr)")
        r = try await runCLI(["index", "--collection", col, "--precision", "fp32", "-"], stdin: "x")
        #expect(r.status != 0 && r.stderr.contains("stores fp16 states"))
        // A benchmark width the model cannot have is refused before anything runs (it used to trap).
        r = try await runCLI(["bench", "compact", "--dimension", "16", "--passages", "8"])
        #expect(r.status != 0 && r.stderr.contains("--dimension 16: must be a positive multiple of 64"), "\(r.stderr)")
    }

    /// kill -9 at random moments while indexing: every document reported as added is there afterwards,
    /// and the collection opens, repairs and accepts more documents.
    @Test func survivesSIGKILL() throws {
        guard let exe = cliExecutable() else { throw CLIMissing() }
        let dir = try TemporaryDirectory()
        let col = dir.path("col")
        let docs = (0..<40).map { Document(id: "k\($0)", text: sampleTexts[$0 % sampleTexts.count] + " #\($0)") }
        let jsonl = docs.map { #"{"id": "\#($0.id)", "text": "\#($0.text)"}"# }.joined(separator: "\n")
        try dir.write("docs.jsonl", jsonl)
        var reported = Set<String>()
        var generator = SystemRandomNumberGenerator()
        var kills = 0
        let models = try RetrievalModels.load(embedding: Fixtures.embeddingCheckpoint("tiny-bf16"), reranker: Fixtures.rerankerCheckpoint("tiny-bf16"))
        for round in 0..<3 {
            // Kill after a random number of newly committed documents plus a random delay.
            let run = try runKilled(exe, ["index", "--collection", col.path, "--model", Self.model, "--reranker", Self.reranker,
                                          "--batch-documents", "\(1 + round)", "--log-documents", dir.path("docs.jsonl").path],
                                    killAfterAdded: Int.random(in: 1...5, using: &generator), maxDelay: 150_000, generator: &generator)
            if run.killed { kills += 1 }
            for line in run.lines where line.hasPrefix("added ") || line.hasPrefix("unchanged ") {
                reported.insert(String(line.split(separator: " ", maxSplits: 1)[1]))
            }
            let c = try DocumentCollection.open(at: col, models: models, writable: true)
            for id in reported {
                let i = Int(id.dropFirst())!
                #expect(c.document(id: id) == docs[i], "round \(round): \(id) reported but missing")
                #expect(c.state(id: id) != nil && c.embedding(id: id) != nil)
            }
        }
        #expect(!reported.isEmpty)
        #expect(kills == 3, "every round should be killed mid-run")
        // After the kills: the collection still takes documents and searches.
        do {
            let c = try DocumentCollection.open(at: col, models: models, writable: true)
            try c.add([Document(id: "after", text: "added after the crashes")])
            let r = try c.search("crashes", options: .init(topK: 3, candidates: 5))
            #expect(r.hits.count == 3)
            // Replaced documents leave dead bytes for the compactions below.
            try c.add(docs.prefix(4).map { Document(id: $0.id, text: $0.text + " (revised)") })
        }
        // kill -9 during `compact --all`: the collection opens with every document, row and state intact.
        var expected: [String: (Document, [Float], RWKVState)] = [:]
        do {
            let c = try DocumentCollection.open(at: col, models: models)
            for d in c.list() { expected[d.id] = (c.document(id: d.id)!, c.embedding(id: d.id)!, c.state(id: d.id)!) }
        }
        var compactKills = 0
        for round in 0..<5 {
            let p = Process()
            p.executableURL = exe
            p.arguments = ["compact", "--all", "--collection", col.path]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(UInt32.random(in: 0...(round == 0 ? 20_000 : 400_000), using: &generator))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            if p.terminationReason == .uncaughtSignal { compactKills += 1 }
            let c = try DocumentCollection.open(at: col, models: models, writable: true)
            #expect(c.count == expected.count, "compaction round \(round)")
            for (id, e) in expected {
                #expect(c.document(id: id) == e.0, "compaction round \(round): \(id)")
                #expect(c.embedding(id: id) == e.1 && c.state(id: id) == e.2, "compaction round \(round): \(id)")
            }
            let names = try FileManager.default.contentsOfDirectory(atPath: col.appendingPathComponent("segments").path)
            #expect(names.count == c.stats().fileBytes.keys.filter { $0.hasPrefix("segments/") }.count, "no orphan segments: \(names)")
        }
        #expect(compactKills >= 1, "at least one compaction should be killed mid-run")
    }

    /// Two real processes: a reader here sees what a writer process (the CLI) commits, deletes and
    /// compacts, without reopening.
    @Test func readerInAnotherProcessSeesCommits() async throws {
        let dir = try TemporaryDirectory()
        let col = dir.path("col")
        var r = try await runCLI(["index", "--collection", col.path, "--model", Self.model, "--reranker", Self.reranker, "-"],
                           stdin: #"{"id": "first", "text": "The first document about rivers."}"#)
        #expect(r.status == 0, "\(r.stderr)")
        let reader = try DocumentCollection.open(at: col, models: nil)
        #expect(reader.count == 1)
        try dir.write("more.jsonl", [
            #"{"id": "a", "text": "A walrus named Quillon lives here.", "metadata": {"group": "x"}}"#,
            #"{"id": "b", "text": "Another document.", "metadata": {"group": "y"}}"#,
        ].joined(separator: "\n"))
        r = try await runCLI(["index", "--collection", col.path, dir.path("more.jsonl").path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(reader.count == 3)
        let found = try reader.search("Quillon", options: .init(topK: 3, rerank: false, mode: .lexical))
        #expect(found.hits.map(\.id) == ["a"])
        let before = reader.embedding(id: "b")
        r = try await runCLI(["delete", "--collection", col.path, "--where", #"{"group": "x"}"#])
        #expect(r.status == 0 && r.stdout.contains("deleted 1"), "\(r.stdout) \(r.stderr)")
        #expect(reader.count == 2 && !reader.contains(id: "a"))
        r = try await runCLI(["compact", "--collection", col.path])
        #expect(r.status == 0 && r.stdout.contains("compacted: 2 passages moved"), "\(r.stdout) \(r.stderr)")
        #expect(reader.embedding(id: "b") == before)
        #expect(try reader.search("rivers", options: .init(topK: 3, rerank: false, mode: .lexical)).hits.map(\.id) == ["first"])
        r = try await runCLI(["list", "--collection", col.path, "--where", #"{"group": "y"}"#])
        #expect(r.stdout.split(separator: "\n").map { $0.split(separator: "\t")[0] } == ["b"], "\(r.stdout)")
        r = try await runCLI(["list", "--collection", col.path, "--json", "--where", #"{"group": "y"}"#])
        let listed = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(listed?["id"] as? String == "b" && (listed?["metadata"] as? [String: Any])?["group"] as? String == "y"
                && listed?["passages"] as? Int == 1 && listed?["has_state"] as? Bool == true, "\(r.stdout)")
        r = try await runCLI(["search", "--collection", col.path, "--json", "--no-group", "--mode", "lexical", "--where", #"{"group": {"$bogus": 1}}"#, "x"])
        #expect(r.status != 0 && r.stderr.contains("$bogus"), "\(r.stderr)")
        r = try await runCLI(["search", "--collection", col.path, "--json", "--no-group", "--top-k", "5", "rivers"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let hits = try #require(object?["hits"] as? [[String: Any]])
        #expect(hits.count == 2)
        for h in hits {
            for key in ["id", "passage", "start", "end", "passage_id", "text", "embedding_score", "rerank_score"] { #expect(h[key] != nil, "\(key)") }
        }
        r = try await runCLI(["stats", "--collection", col.path])
        #expect(r.status == 0 && r.stdout.contains("bytes per passage") && r.stdout.contains("SQLite"), "\(r.stdout)")
        // The state retention and the int8 codes, set by `index`, shown by `stats` and `search`.
        r = try await runCLI(["index", "--collection", col.path, "--states", "some", "-"], stdin: #"{"id": "c", "text": "x"}"#)
        #expect(r.status != 0 && r.stderr.contains("must be all, none or first:N"), "\(r.stderr)")
        r = try await runCLI(["index", "--collection", col.path, "--states", "none", "--ann", "int8", "--ann-oversample", "3", "-"],
                             stdin: #"{"id": "c", "text": "A third document, about lakes."}"#)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(reader.passages(of: "c").map(\.hasState) == [false] && reader.passages(of: "b").map(\.hasState) == [true])
        r = try await runCLI(["stats", "--collection", col.path])
        #expect(r.stdout.contains("(2 with a cached state, states kept for none)") && r.stdout.contains("ann: int8 codes, rescored x3"), "\(r.stdout)")
        r = try await runCLI(["search", "--collection", col.path, "--mode", "dense", "lakes"])
        #expect(r.status == 0 && r.stdout.contains("dense path int8-rescored") && r.stdout.contains("online"), "\(r.stdout) \(r.stderr)")
    }
}
