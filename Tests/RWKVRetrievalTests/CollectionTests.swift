import Foundation
import Testing
import EmbeddingRWKV
import RWKVRetrieval
import RWKVCheckpoint
import RWKVTestSupport

@Suite struct CollectionTests {
    @Test func addSearchReopen() throws {
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        let docs = sampleDocuments()
        do {
            let c = try DocumentCollection.create(at: dir.path("c"), models: models, configuration: .init(statePrecision: .fp32))
            var batches = 0
            let added = try c.add(docs, options: .init(batchDocuments: 5)) { _ in batches += 1 }
            #expect(added.map(\.outcome) == Array(repeating: .added, count: docs.count))
            #expect(batches == 3)
            #expect(c.count == docs.count)
        }
        let c = try DocumentCollection.open(at: dir.path("c"), models: models)
        #expect(c.count == docs.count)
        for d in docs { #expect(c.document(id: d.id) == d) }
        let result = try c.search(sampleQueries[0], options: .init(topK: 5, candidates: 8))
        #expect(result.hits.count == 5)
        #expect(result.candidatesReranked == 8)
        #expect(result.onlineFallbacks == 0)
        // Ordered by rerank logit.
        let logits = result.hits.map { $0.rerank!.logit }
        #expect(logits == logits.sorted(by: >))
    }

    /// The retrieval stage equals a brute-force cosine ranking of freshly computed embeddings.
    @Test func retrievalOrderEqualsBruteForce() throws {
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        let docs = sampleDocuments(14)
        let c = try DocumentCollection.create(at: dir.path("c"), models: models)
        try c.add(docs, options: .init(batchDocuments: 7))
        try c.delete(ids: ["doc3", "doc13"])
        let live = docs.filter { $0.id != "doc3" && $0.id != "doc13" }
        let embedder = Embedder(model: models.model, tokenizer: models.tokenizer, normalize: true)
        let vectors = try embedder.embed(live.map(\.text))
        for (d, v) in zip(live, vectors) { #expect(maxAbsDiff(c.embedding(id: d.id)!, v) <= 1e-5) }
        for q in sampleQueries {
            let qv = try embedder.embedQueries([q])[0]
            let brute = zip(live, vectors).map { d, v in (d.id, zip(qv, v).reduce(Float(0)) { $0 + $1.0 * $1.1 }) }
                .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
            let got = try c.nearest(to: qv, k: live.count)
            #expect(got.map(\.id) == brute.map(\.0), "query \(q)")
            for (g, b) in zip(got, brute) { #expect(abs(g.score - b.1) <= 1e-5) }
            let noRerank = try c.search(q, options: .init(topK: 10, rerank: false, mode: .dense))
            #expect(noRerank.hits.map(\.id) == Array(brute.prefix(10).map(\.0)))
        }
    }

    /// Offline scores from stored fp32 states equal online reranking of the whole template (both fixtures)
    /// and the reference's logits.
    @Test(arguments: Fixtures.modelNames)
    func offlineScoresEqualOnline(name: String) throws {
        let dir = try TemporaryDirectory()
        let models = try Models.load(name)
        let golden = try Fixtures.golden(name)
        let goldenDocs = Array(Set(golden.rerankOnline.map(\.document))).sorted()
        let docs = goldenDocs.enumerated().map { Document(id: "golden\($0.offset)", text: $0.element) } + sampleDocuments(2)
        let c = try DocumentCollection.create(at: dir.path("c"), models: models, configuration: .init(statePrecision: .fp32))
        try c.add(docs)
        var worst: Float = 0, worstGolden = 0.0
        for q in Array(Set(golden.rerankOnline.map(\.query))).sorted() {
            let result = try c.search(q, options: .init(topK: docs.count, candidates: docs.count))
            #expect(result.hits.count == docs.count)
            let online = try models.reranker.rerankOnline(query: q, documents: result.hits.map(\.text))
            for (h, o) in zip(result.hits, online) {
                #expect(h.rerankMode == .offline)
                worst = max(worst, abs(h.rerank!.logit - o.logit))
            }
            for record in golden.rerankOnline where record.query == q {
                let hit = try #require(result.hits.first { $0.text == record.document })
                worstGolden = max(worstGolden, abs(Double(hit.rerank!.logit) - record.logit))
            }
        }
        #expect(worst <= 1e-4, "\(name): max |offline - online| = \(worst)")
        #expect(worstGolden <= 1e-4, "\(name): max |offline - reference| = \(worstGolden)")
    }

    @Test func updateSkipAndDelete() throws {
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        let c = try DocumentCollection.create(at: dir.path("c"), models: models)
        try c.add(sampleDocuments(4))
        let before = c.embedding(id: "doc1")!
        let again = try c.add(sampleDocuments(4))
        #expect(again.map(\.outcome) == Array(repeating: .unchanged, count: 4))
        let changed = Document(id: "doc1", text: "Berlin is the capital of Germany.")
        let metaChanged = Document(id: "doc2", text: sampleTexts[2], metadata: #"{"lang":"en"}"#)
        let r = try c.add([changed, metaChanged, Document(id: "new", text: "Brand new.")])
        #expect(r.map(\.outcome) == [.updated, .updated, .added])
        #expect(c.count == 5)
        #expect(c.document(id: "doc1") == changed)
        #expect(c.embedding(id: "doc1") != before)
        #expect(c.stats().deadRows == 2)
        #expect(try c.delete(ids: ["doc0", "missing", "doc0"]) == ["doc0"])
        #expect(c.count == 4)
        let all = try c.search("capital", options: .init(topK: 10, candidates: 10))
        #expect(!all.hits.contains { $0.id == "doc0" })
        #expect(all.hits.count == 4)
        // The same id twice in one add: the last one wins.
        try c.add([Document(id: "dup", text: "first"), Document(id: "dup", text: "second")])
        #expect(c.document(id: "dup")?.text == "second")
        // Survives reopening.
        let reopened = try DocumentCollection.open(at: dir.path("c"), models: models)
        #expect(reopened.list().map(\.id) == ["doc1", "doc2", "doc3", "dup", "new"])
        #expect(reopened.document(id: "doc1") == changed)
        #expect(reopened.document(id: "doc2")?.metadata == #"{"lang":"en"}"#)
        #expect(reopened.state(id: "doc1") == c.state(id: "doc1"))
    }

    /// Documents without a cached state are reranked online, with the same scores.
    @Test func missingStateFallsBackToOnline() throws {
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        let c = try DocumentCollection.create(at: dir.path("c"), models: models, configuration: .init(statePrecision: .fp32))
        let docs = sampleDocuments(6)
        try c.add(Array(docs[0..<3]))
        try c.add(Array(docs[3...]), options: .init(storeStates: false))
        #expect(c.state(id: "doc4") == nil)
        #expect(c.stats().documentsWithState == 3)
        let result = try c.search(sampleQueries[0], options: .init(topK: 6, candidates: 6))
        #expect(result.onlineFallbacks == 3)
        let online = try models.reranker.rerankOnline(query: sampleQueries[0], documents: result.hits.map(\.text))
        for (h, o) in zip(result.hits, online) {
            #expect(abs(h.rerank!.logit - o.logit) <= 1e-4)
            #expect(h.rerankMode == (["doc3", "doc4", "doc5"].contains(h.id) ? .online : .offline))
        }
    }

    @Test func modelMismatchIsRefused() throws {
        let dir = try TemporaryDirectory()
        _ = try DocumentCollection.create(at: dir.path("c"), models: try Models.tiny)
        #expect(throws: RetrievalError.self) { try DocumentCollection.open(at: dir.path("c"), models: try Models.load("small-fp16")) }
        do {
            _ = try DocumentCollection.open(at: dir.path("c"), models: try Models.load("small-fp16"))
        } catch let error as RetrievalError {
            guard case .modelMismatch = error else { Issue.record("unexpected \(error)"); return }
            #expect(error.description.contains("model mismatch"))
        }
        #expect(throws: RetrievalError.alreadyExists(path: dir.path("c").path)) {
            try DocumentCollection.create(at: dir.path("c"), models: try Models.tiny)
        }
        // Opening without models (list, stats) works.
        #expect(try DocumentCollection.open(at: dir.path("c"), models: nil).count == 0)
    }

    /// The fingerprint depends on the weight values, not on the file format.
    @Test func fingerprintIsStableAcrossFormats() throws {
        let dir = try TemporaryDirectory()
        let emb = dir.path("e.safetensors"), rr = dir.path("r.safetensors")
        try CheckpointConversion.convert(Fixtures.embeddingCheckpoint("tiny-bf16"), to: emb)
        try CheckpointConversion.convert(Fixtures.rerankerCheckpoint("tiny-bf16"), to: rr)
        let converted = try RetrievalModels.load(embedding: emb, reranker: rr)
        #expect(converted.fingerprint == (try Models.tiny).fingerprint)
        #expect(converted.fingerprint != (try Models.load("small-fp16")).fingerprint)
    }

    @Test func openErrors() throws {
        let dir = try TemporaryDirectory()
        #expect(throws: RetrievalError.notACollection(path: dir.path("nothing").path)) {
            try DocumentCollection.open(at: dir.path("nothing"), models: nil)
        }
        let ro = try DocumentCollection.create(at: dir.path("c"), models: try Models.tiny)
        // A second writer is refused while the first holds the lock... in this process too.
        #expect(throws: RetrievalError.locked(path: dir.path("c").path)) {
            try DocumentCollection.open(at: dir.path("c"), models: nil, writable: true)
        }
        _ = ro
        let reader = try DocumentCollection.open(at: dir.path("c"), models: try Models.tiny)
        #expect(throws: RetrievalError.readOnly(path: dir.path("c").path)) { try reader.add(sampleDocuments(1)) }
    }

    /// What an interrupted add leaves (bytes past the committed end of a segment, a new segment file no
    /// row refers to) is ignored by readers and removed by the next writer.
    @Test func interruptedWriteIsRepaired() throws {
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        do {
            let c = try DocumentCollection.create(at: dir.path("c"), models: models)
            try c.add(sampleDocuments(3))
        }
        let emb = dir.path("c/segments/000001.emb"), states = dir.path("c/segments/000001.states")
        let goodEmb = try Data(contentsOf: emb), goodStates = try Data(contentsOf: states)
        var torn = goodEmb
        torn.append(Data(repeating: 0xAB, count: 700))
        try torn.write(to: emb)
        try Data(repeating: 7, count: 4096).write(to: dir.path("c/segments/000009.emb"))
        let reader = try DocumentCollection.open(at: dir.path("c"), models: models)
        #expect(reader.count == 3)
        #expect(reader.passageCount == 3)
        let writer = try DocumentCollection.open(at: dir.path("c"), models: models, writable: true)
        #expect(try Data(contentsOf: emb) == goodEmb)
        #expect(try Data(contentsOf: states) == goodStates)
        #expect(!FileManager.default.fileExists(atPath: dir.path("c/segments/000009.emb").path))
        try writer.add([Document(id: "x", text: "after the repair")])
        #expect(writer.count == 4)
        #expect(reader.count == 4)  // the reader sees the commit without reopening
    }

    /// Concurrent searches while a writer adds documents.
    @Test func concurrentReadersAndWriter() async throws {
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        let c = try DocumentCollection.create(at: dir.path("c"), models: models)
        try c.add(sampleDocuments(4))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for i in 0..<6 { try c.add([Document(id: "w\(i)", text: "written concurrently \(i)")]) }
            }
            for q in sampleQueries {
                group.addTask {
                    for _ in 0..<3 {
                        let r = try c.search(q, options: .init(topK: 3, candidates: 5))
                        #expect(r.hits.count == 3)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(c.count == 10)
    }
}
