import Foundation
import GRDB
import Testing
import EmbeddingRWKV
import RWKVKernels
@testable import RWKVRetrieval
import RWKVSupport
import RWKVTestSupport

/// The version-2 store: passages, filters, hybrid search, compaction, migration, checksums.
@Suite struct StoreTests {
    /// A seeded generator for reproducible random collections.
    struct Rng: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func unit(_ n: Int, _ rng: inout Rng) -> [Float] {
        l2Normalized((0..<n).map { _ in Float.random(in: -1...1, using: &rng) })
    }

    /// Every passage is `text.utf8[start..<end]` exactly (multi-byte text included); a changed document's
    /// passages are all replaced at once, an unchanged one skipped.
    @Test func passageOffsetsAndAtomicReplace() throws {
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        let c = try DocumentCollection.create(at: dir.path("c"), models: models,
                                              configuration: .init(passages: .init(maxTokens: 40, overlapTokens: 8)))
        var text = "# Title\n\n"
        for i in 0..<12 {
            text += "Paragraph \(i): café, naïve, 日本語のテキスト, emoji 🙂🚀, and plain words about topic \(i).\n\n"
            if i % 4 == 3 { text += "## Section \(i)\n" }
        }
        let doc = Document(id: "long", text: text, metadata: #"{"kind":"long"}"#)
        let added = try c.add([doc, Document(id: "short", text: "A short one.")])
        #expect(added.map(\.outcome) == [.added, .added])
        let passages = c.passages(of: "long")
        #expect(passages.count > 3, "\(passages.count) passages")
        #expect(passages.map(\.ordinal) == Array(0..<passages.count))
        #expect(added[0].passages == passages.count)
        let utf8 = Array(text.utf8)
        for p in passages {
            #expect(p.start < p.end && p.end <= utf8.count)
            #expect(String(validating: utf8[p.start..<p.end], as: UTF8.self) != nil, "passage \(p.ordinal) cuts a character")
        }
        #expect(passages.first?.start == 0 && passages.last?.end == utf8.count)
        let hits = try c.search("topic", options: .init(topK: 1000, rerank: false, mode: .dense, group: false)).hits
        #expect(hits.count == passages.count + 1)
        for h in hits where h.id == "long" {
            #expect(h.text == String(decoding: utf8[h.start..<h.end], as: UTF8.self))
            #expect(h.metadata == #"{"kind":"long"}"#)
        }
        let grouped = try c.search("topic", options: .init(topK: 10, rerank: false, mode: .dense))
        #expect(grouped.hits.map(\.id).sorted() == ["long", "short"])

        let before = Set(passages.map(\.id))
        let changed = Document(id: "long", text: String(text.prefix(300)))
        #expect(try c.add([changed]).map(\.outcome) == [.updated])
        let after = c.passages(of: "long")
        #expect(Set(after.map(\.id)).isDisjoint(with: before))
        #expect(after.last?.end == changed.text.utf8.count)
        #expect(c.passageCount == after.count + 1)
        #expect(try c.add([changed]).map(\.outcome) == [.unchanged])
        #expect(c.stats().deadRows == passages.count)
        let reopened = try DocumentCollection.open(at: dir.path("c"), models: models)
        #expect(reopened.passages(of: "long") == after)
        #expect(reopened.manifest.passageTokens == 40)
    }

    static func randomMetadata(_ i: Int, _ rng: inout Rng) -> String {
        var o: [String: Any] = ["n": Int.random(in: 0..<100, using: &rng), "tag": ["a", "b", "c", "d"].randomElement(using: &rng)!,
                                "tags": ["x", "y", "z"].filter { _ in Bool.random(using: &rng) },
                                "nested": ["x": Double(Int.random(in: 0..<1000, using: &rng)) / 1000],
                                "date": String(format: "2024-%02d-%02dT00:00:00Z", Int.random(in: 1...12, using: &rng), Int.random(in: 1...28, using: &rng))]
        if Bool.random(using: &rng) { o["opt"] = i }
        let d = try! JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])
        return String(decoding: d, as: UTF8.self)
    }

    static func randomFilter(_ rng: inout Rng, depth: Int = 0) -> Any {
        let r = Int.random(in: 0..<(depth < 2 ? 14 : 11), using: &rng)
        let n = Int.random(in: 0..<100, using: &rng)
        switch r {
        case 0: return ["tag": ["a", "b", "c", "d", "e"].randomElement(using: &rng)!]
        case 1: return ["n": ["$gt": n]]
        case 2: return ["n": ["$gte": n]]
        case 3: return ["n": ["$lt": n]]
        case 4: return ["n": ["$lte": n, "$ne": n / 2]]
        case 5: return ["tag": ["$in": ["a", "c"]]]
        case 6: return ["tag": ["$nin": ["b"]]]
        case 7: return ["tags": ["$contains": ["x", "y", "z"].randomElement(using: &rng)!]]
        case 8: return ["opt": ["$exists": Bool.random(using: &rng)]]
        case 9: return ["nested.x": ["$lt": Double(n) / 100]]
        case 10: return ["date": ["$gte": String(format: "2024-%02d-01T00:00:00Z", Int.random(in: 1...12, using: &rng))]]
        case 11: return ["$and": [randomFilter(&rng, depth: depth + 1), randomFilter(&rng, depth: depth + 1)]]
        case 12: return ["$or": [randomFilter(&rng, depth: depth + 1), randomFilter(&rng, depth: depth + 1)]]
        default: return ["$not": randomFilter(&rng, depth: depth + 1)]
        }
    }

    /// A collection made before `metadata_index` existed: a read-only open filters through `json_each`,
    /// a writable open adds the table, filled from the documents; both give the same documents, and a
    /// deleted or replaced document takes its rows with it.
    @Test func collectionsWithoutTheMetadataIndexGetItAtAWritableOpen() throws {
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        let url = dir.path("c")
        var rng = Rng(state: 9)
        let docs = (0..<60).map { i in
            Document(id: "d\(i)", text: "document \(i)", metadata: #"{"k": \#(i % 5), "tags": ["t\#(i % 3)"], "src": {"name": "n\#(i % 2)"}}"#)
        }
        do {
            let c = try DocumentCollection.create(at: url, models: models)
            try c.add(docs, embeddings: docs.map { _ in Self.unit(c.dimension, &rng) })
            #expect(c.metadataIndexed)
        }
        let database = DocumentCollection.databaseURL(url).path
        try DatabaseQueue(path: database).write { db in try db.execute(sql: "DROP TABLE metadata_index") }
        let filters = [#"{"k": 2}"#, #"{"tags": {"$contains": "t1"}}"#, #"{"src.name": "n0", "k": {"$gte": 3}}"#, #"{"$not": {"k": {"$in": [0, 1]}}}"#]
        func expected(_ f: MetadataFilter) -> [String] { docs.filter { f.matches(metadataJSON: $0.metadata) }.map(\.id).sorted() }
        do {
            let r = try DocumentCollection.open(at: url, models: models)
            #expect(!r.metadataIndexed)
            for text in filters {
                let f = try MetadataFilter.parse(json: text)
                #expect(try r.list(where: f).map(\.id) == expected(f), "\(text)")
            }
        }
        let c = try DocumentCollection.open(at: url, models: models, writable: true)
        #expect(c.metadataIndexed)
        for text in filters {
            let f = try MetadataFilter.parse(json: text)
            #expect(!expected(f).isEmpty)
            #expect(try c.list(where: f).map(\.id) == expected(f), "\(text)")
        }
        let deleted = try c.delete(where: try MetadataFilter.parse(json: #"{"k": 4}"#))
        #expect(deleted.count == 12)
        try c.add([Document(id: "d0", text: "replaced", metadata: #"{"k": 9}"#)], embeddings: [Self.unit(c.dimension, &rng)])
        let rows = try DatabaseQueue(path: database).read { db in
            try Row.fetchAll(db, sql: "SELECT document, count(*) FROM metadata_index GROUP BY document").map { ($0[0] as String, $0[1] as Int) }
        }
        let byDocument = Dictionary(uniqueKeysWithValues: rows)
        #expect(deleted.allSatisfy { byDocument[$0] == nil }, "a deleted document's rows go with it")
        #expect(byDocument["d0"] == 1, "a replaced document has the rows of its new metadata only")
        #expect(byDocument["d1"] == 5, "k, tags, one element of tags, src, src.name")
        #expect(try c.list(where: try MetadataFilter.parse(json: #"{"k": 9}"#)).map(\.id) == ["d0"])
    }

    /// The first lookup index of `metadata_index` (not covering) is replaced at a writable open; a
    /// filter's mask, cached for one database generation, follows a commit made through another handle.
    @Test func filterMasksFollowCommitsAndTheLookupIndexIsUpgraded() throws {
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        let url = dir.path("c")
        var rng = Rng(state: 5)
        let docs = (0..<40).map { Document(id: "d\($0)", text: "document \($0)", metadata: #"{"k": \#($0 % 4)}"#) }
        do {
            let c = try DocumentCollection.create(at: url, models: models)
            try c.add(docs, embeddings: docs.map { _ in Self.unit(c.dimension, &rng) })
        }
        let database = DocumentCollection.databaseURL(url).path
        func indexes() throws -> [String] {
            try DatabaseQueue(path: database).read { db in try db.indexes(on: "metadata_index").map(\.name).sorted() }
        }
        try DatabaseQueue(path: database).write { db in
            try db.execute(sql: "DROP INDEX metadata_index_match")
            try db.execute(sql: "CREATE INDEX metadata_index_lookup ON metadata_index(path, element, value)")
        }
        let writer = try DocumentCollection.open(at: url, models: models, writable: true)
        #expect(try indexes() == ["metadata_index_by_document", "metadata_index_match"])
        let reader = try DocumentCollection.open(at: url, models: models)
        let filter = try MetadataFilter.parse(json: #"{"k": 1}"#)
        let query = Self.unit(writer.dimension, &rng)
        #expect(try reader.nearest(to: query, k: 100, filter: filter).map(\.id).sorted() == (0..<40).filter { $0 % 4 == 1 }.map { "d\($0)" }.sorted())
        #expect(try reader.nearest(to: query, k: 100, filter: filter).count == 10)
        #expect(reader.filterMasks.counts == (1, 1), "the second search took the cached mask")
        try writer.add([Document(id: "new", text: "new", metadata: #"{"k": 1}"#)], embeddings: [query])
        try writer.delete(ids: ["d1"])
        let after = try reader.nearest(to: query, k: 100, filter: filter)
        #expect(after.count == 10 && after.first?.id == "new" && !after.contains { $0.id == "d1" })
        #expect(reader.filterMasks.counts == (1, 1), "evaluated again at the new generation; the old mask dropped")
    }

    /// Filtered search is exact: for random filters over thousands of random documents, the results are
    /// the brute-force top-k of the matching documents (`MetadataFilter.matches`), min(k, matches) of them.
    @Test func filteredSearchEqualsBruteForce() throws {
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        let c = try DocumentCollection.create(at: dir.path("c"), models: models)
        var rng = Rng(state: 42)
        let d = c.dimension
        let docs = (0..<3000).map { i in Document(id: "d\(i)", text: "document \(i)", metadata: Self.randomMetadata(i, &rng)) }
        let vectors = docs.map { _ in Self.unit(d, &rng) }
        try c.add(docs, embeddings: vectors)
        #expect(c.count == 3000)
        var nonEmpty = 0, partial = 0
        for round in 0..<150 {
            let object = Self.randomFilter(&rng)
            let filter = try MetadataFilter.parse(jsonObject: object)
            let matching = docs.indices.filter { filter.matches(metadataJSON: docs[$0].metadata) }
            let q = Self.unit(d, &rng)
            let k = [1, 10, 100].randomElement(using: &rng)!
            let brute = matching.map { (docs[$0].id, zip(vectors[$0], q).reduce(Float(0)) { $0 + $1.0 * $1.1 }) }
                .sorted { $0.1 > $1.1 }
            let got = try c.nearest(to: q, k: k, filter: filter)
            let label = "round \(round): \(object)"
            #expect(got.count == min(k, matching.count), "\(label): \(got.count) results, \(matching.count) matches")
            let allowed = Set(matching.map { docs[$0].id })
            #expect(got.allSatisfy { allowed.contains($0.id) }, "\(label)")
            for (g, b) in zip(got, brute) { #expect(abs(g.score - b.1) <= 1e-5, "\(label): \(g.id) \(g.score) vs \(b.0) \(b.1)") }
            if !matching.isEmpty { nonEmpty += 1 }
            if matching.count > 0 && matching.count < docs.count { partial += 1 }
            // The same through SQLite alone: list(where:).
            if round % 10 == 0 { #expect(try c.list(where: filter).map(\.id).sorted() == allowed.sorted(), "\(label)") }
        }
        #expect(nonEmpty > 50 && partial > 50, "the random filters should mostly match something: \(nonEmpty), \(partial)")
        // An absent key matches nothing; delete --where removes exactly the matches.
        #expect(try c.nearest(to: Self.unit(d, &rng), k: 5, filter: try MetadataFilter.parse(json: #"{"missing": 1}"#)).isEmpty)
        let tagA = try MetadataFilter.parse(json: #"{"tag": "a"}"#)
        let expected = docs.filter { tagA.matches(metadataJSON: $0.metadata) }.map(\.id)
        #expect(try c.delete(where: tagA).sorted() == expected.sorted())
        #expect(c.count == 3000 - expected.count)
    }

    static let words = ["river", "stone", "light", "garden", "window", "morning", "paper", "signal", "orange", "market",
                        "engine", "silver", "forest", "letter", "bridge", "circle", "winter", "pocket", "island", "number"]

    /// BM25 finds what random-weight embeddings cannot: one rare word in one passage among thousands
    /// comes first in hybrid mode (and is the only lexical match).
    @Test func hybridFindsTheRareWord() throws {
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        let c = try DocumentCollection.create(at: dir.path("c"), models: models)
        var rng = Rng(state: 7)
        var docs = (0..<3000).map { i in
            Document(id: "d\(i)", text: (0..<10).map { _ in Self.words.randomElement(using: &rng)! }.joined(separator: " "),
                     metadata: i % 2 == 0 ? #"{"half":"even"}"# : #"{"half":"odd"}"#)
        }
        docs[1234].text += " xylophonist"
        try c.add(docs, embeddings: docs.map { _ in Self.unit(c.dimension, &rng) })
        let hybrid = try c.search("the xylophonist", options: .init(topK: 5, rerank: false))
        #expect(hybrid.hits.first?.id == "d1234", "\(hybrid.hits.map(\.id))")
        #expect(hybrid.hits.first?.lexicalScore != nil && hybrid.hits.first?.fusedScore != nil)
        #expect(hybrid.hits.count == 5)
        let lexical = try c.search("xylophonist", options: .init(topK: 5, rerank: false, mode: .lexical))
        #expect(lexical.hits.map(\.id) == ["d1234"])
        // Filters apply to both lists: the odd half excludes it.
        let odd = try c.search("xylophonist", options: .init(topK: 5, rerank: false, filter: try MetadataFilter.parse(json: #"{"half":"odd"}"#)))
        #expect(!odd.hits.contains { $0.id == "d1234" } && odd.hits.count == 5)
        // Query text is never FTS5 syntax.
        for q in [#"xylophonist" OR *"#, "NEAR(river stone)", "river AND", "^col:", "\"", "(((", "-"] {
            #expect(throws: Never.self) { try c.search(q, options: .init(topK: 3, rerank: false)) }
        }
        // Reranking the fused candidates runs online here (no cached states) and scores every candidate.
        let reranked = try c.search("xylophonist", options: .init(topK: 3, candidates: 4))
        #expect(reranked.candidatesReranked > 0 && reranked.onlineFallbacks == reranked.candidatesReranked)
        #expect(reranked.timings.lexical > 0 && reranked.timings.retrieval > 0)
    }

    /// Compaction reclaims dead bytes, keeps every document (rows and states byte-identical) and searches
    /// running meanwhile see complete results.
    @Test func compactionReclaimsAndKeepsEverything() async throws {
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        let c = try DocumentCollection.create(at: dir.path("c"), models: models, compaction: .init(deadShare: nil))
        let docs = sampleDocuments(12)
        try c.add(docs)
        try c.add(docs.prefix(6).map { Document(id: $0.id, text: $0.text + " (revised)") })
        try c.delete(ids: ["doc11"])
        let before = c.stats()
        #expect(before.deadBytes > 0 && before.deadRows == 7)
        let live = c.list().map(\.id)
        let embeddings = live.map { c.embedding(id: $0)! }
        let states = live.map { c.state(id: $0)! }
        let query = "capital of France"
        let expected = try c.search(query, options: .init(topK: 5, candidates: 11)).hits.map(\.id)
        let report = try await withThrowingTaskGroup(of: CompactionReport?.self) { group in
            group.addTask { try c.compact() }
            for _ in 0..<2 {
                group.addTask {
                    for _ in 0..<3 {
                        let r = try c.search(query, options: .init(topK: 5, candidates: 11))
                        #expect(r.hits.map(\.id) == expected)
                    }
                    return nil
                }
            }
            var report: CompactionReport?
            for try await r in group where r != nil { report = r }
            return report!
        }
        #expect(report.passagesMoved == 11)
        #expect(report.bytesAfter < report.bytesBefore)
        let after = c.stats()
        #expect(after.deadBytes == 0 && after.deadRows == 0)
        #expect(c.list().map(\.id) == live)
        for (i, id) in live.enumerated() {
            #expect(c.embedding(id: id) == embeddings[i])
            #expect(c.state(id: id) == states[i])
        }
        // The old pair is unlinked in the background: gone once the removal is waited for.
        c.waitForFileRemovals()
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path("c/segments").path).sorted()
        #expect(files == ["000002.emb", "000002.states"])
        // New documents go into a new active pair after the sealed one.
        try c.add([Document(id: "new", text: "after compaction")])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path("c/segments").path).count == 4)
        let reopened = try DocumentCollection.open(at: dir.path("c"), models: models)
        #expect(reopened.count == 12)
        // What the switch transaction wrote (rows and state offsets), read back by a fresh view.
        for (i, id) in live.enumerated() {
            #expect(reopened.embedding(id: id) == embeddings[i])
            #expect(reopened.state(id: id) == states[i])
        }
        #expect(try reopened.search(query, options: .init(topK: 5, candidates: 11)).hits.count == 5)
        // Automatic compaction: past the dead share, the next write compacts.
        let auto = try DocumentCollection.create(at: dir.path("auto"), models: models, compaction: .init(deadShare: 0.3, minimumDeadBytes: 0))
        try auto.add(sampleDocuments(4))
        try auto.delete(ids: ["doc0", "doc1"])
        #expect(auto.stats().deadBytes == 0)
        #expect(auto.count == 2)
    }

    /// Bad input: empty text or a non-object metadata is refused naming the document, before anything
    /// is written; JSONL errors name the line; a malformed filter names the operator.
    @Test func badInputIsRefusedClearly() throws {
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        let c = try DocumentCollection.create(at: dir.path("c"), models: models)
        #expect(throws: RetrievalError.invalidInput("document \"e\": empty text")) {
            try c.add([Document(id: "ok", text: "fine"), Document(id: "e", text: "")])
        }
        #expect(throws: RetrievalError.invalidInput("document \"m\": metadata is not a JSON object")) {
            try c.add([Document(id: "m", text: "x", metadata: "[1,2]")])
        }
        #expect(c.count == 0)  // nothing of the refused batches was written
        var bad = Data(#"{"id": "a", "text": "fine"}"#.utf8)
        bad.append(0x0A)
        bad.append(contentsOf: [0x7B, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3A, 0x22, 0xFF, 0xFE, 0x22, 0x7D])
        #expect(throws: RetrievalError.invalidInput("in.jsonl:2: not UTF-8 text")) { try DocumentInputs.parseJSONL(bad, source: "in.jsonl") }
        #expect(throws: RetrievalError.invalidInput("in.jsonl:1: empty \"text\"")) {
            try DocumentInputs.parseJSONL(Data(#"{"id": "z", "text": ""}"#.utf8), source: "in.jsonl")
        }
        do {
            _ = try MetadataFilter.parse(json: #"{"n": {"$between": [1, 2]}}"#)
            Issue.record("an unknown operator should be refused")
        } catch {
            #expect("\(error)".contains("$between"), "\(error)")
        }
        // A filter value with SQL in it is only ever a bound value.
        try c.add([Document(id: "q", text: "quoted", metadata: #"{"tag":"x'); DROP TABLE documents; --"}"#)])
        let f = try MetadataFilter.parse(json: #"{"tag": "x'); DROP TABLE documents; --"}"#)
        #expect(try c.list(where: f).map(\.id) == ["q"])
        #expect(c.count == 1)
    }

    /// A version-1 collection opens read-only, refuses writes with a clear error, and migrates to
    /// version 2 with identical documents, rows, states and search results.
    @Test func migrateRoundTrip() throws {
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        let url = dir.path("v1")
        let docs = sampleDocuments(6) + [Document(id: "doc2", text: "A replaced text.", metadata: #"{"v":2}"#)]
        try Self.writeVersion1(docs, deleting: ["doc4"], at: url, models: models)
        let live = ["doc0", "doc1", "doc2", "doc3", "doc5"]
        let v1 = try DocumentCollection.open(at: url, models: models)
        #expect(v1.isLegacy && v1.manifest.version == 1)
        #expect(v1.list().map(\.id) == live)
        #expect(v1.document(id: "doc2")?.metadata == #"{"v":2}"#)
        let query = "What is the capital of France?"
        let v1Hits = try v1.search(query, options: .init(topK: 5, candidates: 5))
        #expect(v1Hits.hits.count == 5 && v1Hits.onlineFallbacks == 0)
        #expect(throws: RetrievalError.legacyFormat(path: url.path, version: 1)) { try DocumentCollection.open(at: url, models: models, writable: true) }
        #expect(throws: RetrievalError.legacyFormat(path: url.path, version: 1)) { try v1.add([Document(id: "x", text: "y")]) }
        #expect(RetrievalError.legacyFormat(path: url.path, version: 1).description.contains("read-only until it is migrated"))
        let embeddings = live.map { v1.embedding(id: $0)! }
        let states = live.map { v1.state(id: $0)! }

        let report = try LegacyCollection.migrate(at: url)
        #expect(report.documents == live.count)
        #expect(!FileManager.default.fileExists(atPath: url.appendingPathComponent("collection.json").path))
        #expect(FileManager.default.fileExists(atPath: url.appendingPathComponent("v1-backup/collection.json").path))
        let v2 = try DocumentCollection.open(at: url, models: models, writable: true)
        #expect(!v2.isLegacy && v2.manifest.version == 2)
        #expect(v2.list().map(\.id) == live)
        for (i, id) in live.enumerated() {
            #expect(v2.document(id: id) == v1.document(id: id))
            #expect(v2.embedding(id: id) == embeddings[i])
            #expect(v2.state(id: id) == states[i])
        }
        let v2Hits = try v2.search(query, options: .init(topK: 5, candidates: 5))
        #expect(v2Hits.hits.map(\.id) == v1Hits.hits.map(\.id))
        #expect(v2Hits.hits.map { $0.rerank!.logit } == v1Hits.hits.map { $0.rerank!.logit })
        #expect(v2.stats().deadRows == 2)  // the replaced and the deleted document's rows, reclaimed by compact
        try v2.compact()
        #expect(v2.stats().deadRows == 0)
        #expect(try v2.add([Document(id: "new", text: "added after migration")]).map(\.outcome) == [.added])
        #expect(try LegacyCollection.migrate(at: url, deleteBackup: true).documents == 6)  // idempotent on version 2
        #expect(!FileManager.default.fileExists(atPath: url.appendingPathComponent("v1-backup").path))
    }

    /// Writes a version-1 collection the way version 1 did (manifest, log, embeddings, states).
    static func writeVersion1(_ docs: [Document], deleting: [String], at url: URL, models: RetrievalModels) throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let configuration = CollectionConfiguration(statePrecision: .fp16)
        var manifest = DocumentCollection.newManifest(models: models, configuration: configuration)
        manifest.version = 1
        var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(manifest)) as! [String: Any]
        for key in ["passageTokens", "passageOverlap", "split", "shardCount", "shardIndex"] { object[key] = nil }
        try JSONSerialization.data(withJSONObject: object).write(to: url.appendingPathComponent("collection.json"))
        let codec = StateCodec(precision: .fp16, layerCount: models.stateLayers, embeddingSize: models.model.width)
        let embedder = Embedder(model: models.model, tokenizer: models.tokenizer, task: .retrieval, inputProtocol: .single, normalize: true)
        let vectors = try embedder.embed(docs.map(\.text))
        let states = try models.reranker.documentStates(for: docs.map(\.text))
        var log = DocumentLog.header()
        var emb = ByteWriter()
        emb.bytes(Array("RWEM".utf8)); emb.u32(1); emb.u32(UInt32(models.model.width)); emb.u32(0)
        var embBytes = emb.data + [UInt8](repeating: 0, count: 64 - emb.data.count)
        var st = ByteWriter()
        st.bytes(Array("RWST".utf8)); st.u32(1); st.u32(StatePrecision.fp16.code); st.u32(UInt32(models.stateLayers))
        st.u32(UInt32(models.model.width)); st.u32(UInt32(codec.blobBytes))
        var stateBytes = st.data + [UInt8](repeating: 0, count: 64 - st.data.count)
        for (i, d) in docs.enumerated() {
            let put = DocumentLog.Put(id: d.id, contentHash: d.contentHash, stateTokens: models.reranker.documentTokens(d.text).count,
                                      embeddingTokens: embedder.tokens(for: d.text).count, row: i,
                                      stateOffset: stateBytes.count, stateLength: codec.blobBytes, text: d.text, metadata: d.metadata)
            log += DocumentLog.encode(.put(put)).bytes
            vectors[i].withUnsafeBytes { embBytes += $0 }
            stateBytes += codec.encode(states[i])
        }
        for id in deleting { log += DocumentLog.encode(.delete(id: id)).bytes }
        try Data(log).write(to: url.appendingPathComponent("documents.log"))
        try Data(embBytes).write(to: url.appendingPathComponent("embeddings.f32"))
        try Data(stateBytes).write(to: url.appendingPathComponent("states.bin"))
    }
}
