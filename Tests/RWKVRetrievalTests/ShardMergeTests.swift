import Foundation
import Testing
import EmbeddingRWKV
@testable import RWKVRetrieval
import RWKVTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Shards (documents assigned by a hash of their id) and `merge` (issue 14).
@Suite(.serialized) struct ShardMergeTests {

    static func documents(_ n: Int) -> [Document] {
        (0..<n).map { Document(id: "doc\($0)", text: sampleTexts[$0 % sampleTexts.count] + " Note \($0): item \($0 * 7 % 13).",
                               metadata: $0 % 3 == 0 ? #"{"group":"a"}"# : nil) }
    }

    /// The hash, as Python's hashlib computes it (the Ray package assigns shards the same way).
    @Test func shardOfIDMatchesSHA256Prefix() throws {
        #expect(ShardAssignment.shard(of: "doc0", count: 2) == 1)  // 17947748175267448855 % 2
        #expect(ShardAssignment.shard(of: "doc7", count: 3) == 1)  // 15038474920538358007 % 3
        #expect(ShardAssignment.shard(of: "k42", count: 5) == 0)   // 17215145198723440970 % 5
        #expect(ShardAssignment.shard(of: "héllo", count: 7) == 0) // 4343819824053979717 % 7
        #expect(try ShardAssignment(parsing: "1/4") == ShardAssignment(index: 1, count: 4))
        for bad in ["4/4", "-1/2", "1", "a/b", "0/0"] {
            #expect(throws: RetrievalError.self, "\(bad)") { try ShardAssignment(parsing: bad) }
        }
        // Every id lands in exactly one shard.
        let shards = (0..<3).map { try! ShardAssignment(index: $0, count: 3) }
        for d in Self.documents(50) { #expect(shards.filter { $0.contains(d.id) }.count == 1) }
    }

    /// Two shards built separately and merged search exactly like one collection of all the documents:
    /// the same hits, passages, embedding scores and rerank logits; merging again adds nothing.
    @Test func mergedShardsSearchLikeOneCollection() throws {
        let models = try Models.tiny
        let dir = try TemporaryDirectory()
        // Every other document long enough for several passages of 16 tokens; a number every few words keeps
        // every passage distinct (an exact tie would be broken by row order, which differs between collections).
        let docs = (0..<30).map { i in
            let words = (sampleTexts[i % sampleTexts.count] + (i % 2 == 0 ? " " + sampleTexts[(i + 5) % sampleTexts.count] : "")).split(separator: " ")
            let text = words.enumerated().map { k, w in k % 4 == 3 ? "\(w) \(i * 31 + k)" : String(w) }.joined(separator: " ")
            return Document(id: "doc\(i)", text: text, metadata: i % 3 == 0 ? #"{"group":"a"}"# : nil)
        }
        let config = CollectionConfiguration(passages: PassageOptions(maxTokens: 16, overlapTokens: 4))
        let whole = try DocumentCollection.create(at: dir.path("whole"), models: models, configuration: config)
        // One document per engine batch on both sides: the GEMMs' rounding depends on which rows share a
        // batch (measured: up to ~1e-7 apart), and this test compares bytes.
        let oneByOne = AddOptions(batchDocuments: 1)
        try whole.add(docs, options: oneByOne)
        var shardURLs: [URL] = []
        for i in 0..<2 {
            var c = config
            c.shard = try ShardAssignment(index: i, count: 2)
            let url = dir.path("shard\(i)")
            let shard = try DocumentCollection.create(at: url, models: models, configuration: c)
            let mine = docs.filter { c.shard.contains($0.id) }
            #expect(!mine.isEmpty && mine.count < docs.count)
            try shard.add(mine, options: oneByOne)
            #expect(shard.manifest.shardCount == 2 && shard.manifest.shardIndex == i)
            // A document of the other shard is refused, naming both shards.
            let other = try #require(docs.first { !c.shard.contains($0.id) })
            #expect { try shard.add([other]) } throws: { "\($0)".contains("belongs to shard \(1 - i)/2") }
            shardURLs.append(url)
        }
        let merged = try DocumentCollection.openMergeDestination(at: dir.path("merged"), like: shardURLs[0], shard: nil)
        var reports = try shardURLs.map { try merged.merge(from: $0) }
        #expect(reports.map(\.documentsAdded).reduce(0, +) == docs.count)
        #expect(merged.count == docs.count && merged.passageCount == whole.passageCount && whole.passageCount > docs.count)
        #expect(merged.manifest.shardCount == 1)
        // Idempotent: a second merge of each source (also named by its segments/ folder) adds nothing.
        reports = try shardURLs.map { try merged.merge(from: $0.appendingPathComponent("segments")) }
        #expect(reports.allSatisfy { $0.documentsAdded == 0 && $0.documentsReplaced == 0 && $0.segmentsCreated == 0 })
        #expect(reports.map(\.documentsSkipped).reduce(0, +) == docs.count)  // each source's own documents, already present
        #expect(merged.count == docs.count)
        // Reopened from disk: the same bytes and the same searches.
        let reopened = try DocumentCollection.open(at: dir.path("merged"), models: models)
        for d in docs {
            #expect(reopened.document(id: d.id) == d)
            for p in whole.passages(of: d.id) {
                #expect(reopened.embedding(id: d.id, passage: p.ordinal) == whole.embedding(id: d.id, passage: p.ordinal))
                #expect(reopened.state(id: d.id, passage: p.ordinal) == whole.state(id: d.id, passage: p.ordinal))
            }
        }
        for mode in SearchMode.allCases {
            for q in sampleQueries {
                let options = SearchOptions(topK: 5, candidates: 12, mode: mode)
                let a = try whole.search(q, options: options).hits, b = try reopened.search(q, options: options).hits
                // The same hits; scores equal up to float rounding: the scan's and the reranker's kernels round
                // a row by where it sits in the matrix and which rows share its batch (measured: below 1e-6).
                #expect(a.map(\.id) == b.map(\.id) && a.map(\.passage) == b.map(\.passage), "\(mode) \(q)")
                #expect(zip(a, b).allSatisfy { abs(($0.embeddingScore ?? 0) - ($1.embeddingScore ?? 0)) <= 1e-6 }, "\(mode) \(q)")
                #expect(zip(a, b).allSatisfy { abs(($0.rerank?.logit ?? 0) - ($1.rerank?.logit ?? 0)) <= 1e-5 }, "\(mode) \(q)")
                #expect(a.map(\.lexicalScore) == b.map(\.lexicalScore), "\(mode) \(q)")
            }
        }
        // A changed document in a source replaces the stored one at the next merge.
        let shard0 = try DocumentCollection.open(at: shardURLs[0], models: models, writable: true)
        let changed = try #require(docs.first { shard0.manifest.shard.contains($0.id) })
        try shard0.add([Document(id: changed.id, text: "Rewritten: the walrus Quillon.")])
        let r = try merged.merge(from: shardURLs[0])
        #expect(r.documentsReplaced == 1 && r.documentsAdded == 0)
        #expect(merged.document(id: changed.id)?.text == "Rewritten: the walrus Quillon.")
        #expect(try merged.search("walrus Quillon", options: .init(topK: 1, rerank: false, mode: .lexical)).hits.first?.id == changed.id)
    }

    @Test func mergeRefusesMismatchedCollections() throws {
        let models = try Models.tiny
        let dir = try TemporaryDirectory()
        let dest = try DocumentCollection.create(at: dir.path("dest"), models: models)
        try dest.add(sampleDocuments(2))
        let int8 = try DocumentCollection.create(at: dir.path("int8"), models: models, configuration: .init(statePrecision: .int8))
        try int8.add(sampleDocuments(2))
        #expect { try dest.merge(from: dir.path("int8")) } throws: { "\($0)".contains("state precision is int8, the destination's fp16") }
        let passages = try DocumentCollection.create(at: dir.path("short"), models: models,
                                                     configuration: .init(passages: PassageOptions(maxTokens: 16, overlapTokens: 2)))
        try passages.add(sampleDocuments(2))
        #expect { try dest.merge(from: dir.path("short")) } throws: { "\($0)".contains("passage options") }
        let other = try DocumentCollection.create(at: dir.path("other"), models: try Models.load("small-fp16"))
        try other.add(sampleDocuments(1))
        #expect { try dest.merge(from: dir.path("other")) } throws: { "\($0)".contains("model mismatch") }
        #expect(throws: RetrievalError.notACollection(path: dir.path("none").path)) { try dest.merge(from: dir.path("none")) }
        #expect { try dest.merge(from: dir.path("dest")) } throws: { "\($0)".contains("into itself") }
        #expect(dest.count == 2)  // nothing was written
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path("dest/segments").path)
        #expect(names.count == 2, "no files left behind: \(names)")
    }

    /// The CLI: `index --shard I/N` keeps that shard's documents; `merge` combines them and is idempotent.
    @Test func indexShardsAndMergeOnTheCommandLine() async throws {
        let dir = try TemporaryDirectory()
        let docs = Self.documents(12)
        try dir.write("docs.jsonl", docs.map { #"{"id": "\#($0.id)", "text": "\#($0.text)"}"# }.joined(separator: "\n"))
        let jsonl = dir.path("docs.jsonl").path
        var shardPaths: [String] = []
        for i in 0..<2 {
            let col = dir.path("s\(i)").path
            let r = try await runCLI(["index", "--collection", col, "--model", Fixtures.tinyModelPath, "--reranker", Fixtures.tinyRerankerPath,
                                "--shard", "\(i)/2", jsonl])
            #expect(r.status == 0, "\(r.stderr)")
            let expected = docs.filter { ShardAssignment.shard(of: $0.id, count: 2) == i }.count
            #expect(r.stdout.contains("indexed: \(expected) added"), "\(r.stdout)")
            #expect(try DocumentCollection.readManifest(at: dir.path("s\(i)")).shard == ShardAssignment(index: i, count: 2))
            shardPaths.append(col)
        }
        var r = try await runCLI(["index", "--collection", shardPaths[0], "--shard", "1/2", jsonl])
        #expect(r.status != 0 && r.stderr.contains("holds shard 0/2, not 1/2"), "\(r.stderr)")
        let dest = dir.path("all").path
        r = try await runCLI(["merge", "--collection", dest] + shardPaths)
        #expect(r.status == 0 && r.stdout.contains("holds 12 documents"), "\(r.stdout) \(r.stderr)")
        r = try await runCLI(["merge", "--collection", dest] + shardPaths)
        #expect(r.status == 0 && !r.stdout.contains("merged \(shardPaths[0]): 1") && r.stdout.contains("holds 12 documents"), "\(r.stdout)")
        #expect(r.stdout.split(separator: "\n").filter { $0.contains(": 0 added, 0 replaced") }.count == 2, "\(r.stdout)")
        // Only shard 1 of the merged collection.
        r = try await runCLI(["merge", "--collection", dir.path("only1").path, "--shard", "1/2", dest])
        let ones = docs.filter { ShardAssignment.shard(of: $0.id, count: 2) == 1 }.count
        #expect(r.status == 0 && r.stdout.contains("holds \(ones) documents (shard 1/2)"), "\(r.stdout) \(r.stderr)")
        r = try await runCLI(["merge", "--collection", dest, dir.path("missing").path])
        #expect(r.status != 0 && r.stderr.contains("is not a collection"), "\(r.stderr)")
        r = try await runCLI(["index", "--collection", dir.path("int8").path, "--precision", "int8", "-"], stdin: "x")
        #expect(r.status == 0, "\(r.stderr)")
        r = try await runCLI(["merge", "--collection", dest, dir.path("int8").path])
        #expect(r.status != 0 && r.stderr.contains("state precision is int8"), "\(r.stderr)")
    }

    /// `rwkv-emb worker`: batches acknowledged after commit; a batch sent again adds nothing; a bad batch is
    /// refused whole and the worker goes on.
    @Test func workerAcknowledgesDurableBatches() throws {
        guard let exe = cliExecutable() else { throw CLIMissing() }
        let dir = try TemporaryDirectory()
        let col = dir.path("w")
        let p = Process()
        p.executableURL = exe
        p.arguments = ["worker", "--collection", col.path, "--model", Fixtures.tinyModelPath, "--reranker", Fixtures.tinyRerankerPath, "--shard", "0/2"]
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = FileHandle.nullDevice
        try p.run()
        let reader = LineReader(output.fileHandleForReading)
        func send(_ lines: [String]) { input.fileHandleForWriting.write(Data((lines.joined(separator: "\n") + "\n").utf8)) }
        func ack() throws -> [String: Any] {
            let line = try #require(reader.next())
            return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        #expect(try ack()["ready"] as? Bool == true)
        let docs = Self.documents(10)
        let batch = docs.map { #"{"id": "\#($0.id)", "text": "\#($0.text)"}"# }
        let mine = docs.filter { ShardAssignment.shard(of: $0.id, count: 2) == 0 }
        send(batch + [#"{"commit": "b1"}"#])
        var a = try ack()
        #expect(a["commit"] as? String == "b1" && a["added"] as? Int == mine.count && a["other_shard"] as? Int == docs.count - mine.count, "\(a)")
        // Durable when acknowledged: a reader in this process sees every document of the batch.
        let view = try DocumentCollection.open(at: col, models: nil)
        #expect(view.count == mine.count)
        send(batch + [#"{"commit": 2}"#])
        a = try ack()
        #expect(a["commit"] as? Int == 2 && a["added"] as? Int == 0 && a["unchanged"] as? Int == mine.count, "\(a)")
        send([#"{"id": "x", "text": "fine"}"#, #"{"id": "y"}"#, #"{"commit": "bad"}"#])
        a = try ack()
        #expect((a["error"] as? String)?.contains("batch 3:2: missing or non-string \"text\"") == true, "\(a)")
        try input.fileHandleForWriting.close()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(view.count == mine.count)
    }

    /// kill -9 during `merge` of several sources: the reopened destination holds each source's
    /// documents all or none, with no orphan segment files, and a rerun completes the merge.
    @Test func mergeSurvivesSIGKILL() async throws {
        guard let exe = cliExecutable() else { throw CLIMissing() }
        let models = try Models.tiny
        let dir = try TemporaryDirectory()
        var rng = StoreTests.Rng(state: 14)
        var sources: [(URL, Set<String>)] = []
        for s in 0..<4 {
            let url = dir.path("src\(s)")
            let c = try DocumentCollection.create(at: url, models: models)
            let docs = (0..<1500).map { Document(id: "s\(s)-\($0)", text: "source \(s) document \($0) about topic \($0 % 97)") }
            try c.add(docs, embeddings: docs.map { _ in StoreTests.unit(models.model.width, &rng) })
            sources.append((url, Set(docs.map(\.id))))
        }
        let dest = dir.path("dest")
        var kills = 0
        for round in 0..<6 {
            let p = Process()
            p.executableURL = exe
            p.arguments = ["merge", "--collection", dest.path] + sources.map(\.0.path)
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(UInt32.random(in: 50_000...(round < 3 ? 600_000 : 1_500_000), using: &rng))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            if p.terminationReason == .uncaughtSignal { kills += 1 }
            guard DocumentCollection.exists(at: dest) else { continue }
            let c = try DocumentCollection.open(at: dest, models: nil, writable: true)
            let ids = Set(c.list().map(\.id))
            for (url, sourceIDs) in sources {
                let present = ids.intersection(sourceIDs).count
                #expect(present == 0 || present == sourceIDs.count, "round \(round): \(present) of \(url.lastPathComponent)")
            }
            #expect(ids.isSubset(of: sources.reduce(Set<String>()) { $0.union($1.1) }))
            let names = try FileManager.default.contentsOfDirectory(atPath: dest.appendingPathComponent("segments").path)
            #expect(names.count == c.stats().fileBytes.keys.filter { $0.hasPrefix("segments/") }.count, "no orphan segments: \(names)")
        }
        #expect(kills >= 1, "at least one merge should be killed mid-run")
        let r = try await runCLI(["merge", "--collection", dest.path] + sources.map(\.0.path))
        #expect(r.status == 0, "\(r.stderr)")
        let c = try DocumentCollection.open(at: dest, models: nil)
        #expect(c.count == 6000)
        let source = try DocumentCollection.open(at: sources[2].0, models: nil)
        for id in ["s2-0", "s2-777", "s2-1499"] { #expect(c.embedding(id: id) == source.embedding(id: id)) }
    }
}

/// Lines from a pipe, one at a time (blocking).
final class LineReader {
    private let handle: FileHandle
    private var buffer = Data()
    init(_ handle: FileHandle) { self.handle = handle }
    func next() -> String? {
        while true {
            if let i = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<i], as: UTF8.self)
                buffer = Data(buffer[(i + 1)...])
                return line
            }
            let chunk = handle.availableData
            if chunk.isEmpty { return nil }
            buffer += chunk
        }
    }
}
