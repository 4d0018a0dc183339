import EmbeddingRWKV
import Foundation
import RWKVRetrieval
import RWKVServer
import RWKVTestSupport
import Testing

/// Collection routes against a real server, with collections in a temporary folder.
extension SerialServerSuites {
@Suite(.serialized) final class CollectionRouteTests: Sendable {
    let directory: TemporaryDirectory
    var root: URL { directory.url }

    init() throws {
        directory = try TemporaryDirectory()
    }

    @Test func collectionLifecycleAndSearch() async throws {
        let server = try await TestServer.start { $0.collectionsRoot = self.root }
        defer { Task { try? await server.stop() } }

        let created = try await server.post("/collections", json: ["name": "docs"])
        #expect(created.status == .created, "\(created.text)")
        let dup = try await server.post("/collections", json: ["name": "docs"])
        #expect(dup.status == .conflict, "\(dup.text)")
        let badName = try await server.post("/collections", json: ["name": "../evil"])
        #expect(badName.status == .unprocessableEntity, "\(badName.text)")

        let docs: [[String: Any]] = [
            ["id": "rwkv", "text": "RWKV is a recurrent network with transformer-level quality.", "metadata": ["lang": "en", "n": 1]],
            ["id": "fruit", "text": "Bananas are yellow and grow in bunches."],
            ["text": "State space models carry a fixed-size state through the sequence."],
        ]
        let add = try await server.post("/collections/docs/documents", json: ["documents": docs])
        #expect(add.status == .ok, "\(add.text)")
        let addBody = try #require(add.json() as? [String: Any])
        #expect((addBody["durable"] as? Bool) == true)
        let results = try #require(addBody["results"] as? [[String: Any]])
        #expect((results.map { $0["outcome"] as? String }) == ["added", "added", "added"])
        let generatedID = try #require(results[2]["id"] as? String)

        // Durable: a separate read-only open of the folder sees the documents now.
        let onDisk = try DocumentCollection.open(at: root.appendingPathComponent("docs"), models: nil)
        #expect(Set(onDisk.list().map(\.id)) == ["rwkv", "fruit", generatedID])
        #expect(onDisk.list().allSatisfy { $0.hasState })

        let search = try await server.post("/collections/docs/search", json: ["query": "what is RWKV", "top_k": 2, "candidates": 3])
        #expect(search.status == .ok, "\(search.text)")
        let s = try #require(search.json() as? [String: Any])
        let hits = try #require(s["hits"] as? [[String: Any]])
        #expect(hits.count == 2)
        let rerankScores = hits.compactMap { ($0["rerank_score"] as? NSNumber)?.floatValue }
        #expect(rerankScores.count == 2)
        #expect(rerankScores == rerankScores.sorted(by: >))
        #expect(hits.allSatisfy { $0["embedding_score"] is NSNumber && $0["rerank_mode"] as? String == "offline" })
        let timings = try #require(s["timings"] as? [String: Any])
        for key in ["query_embedding_ms", "retrieval_ms", "state_load_ms", "rerank_ms", "total_ms"] {
            #expect((timings[key] as? NSNumber) != nil, "\(key)")
        }
        #expect((s["candidates_reranked"] as? Int) == 3)
        if let rwkvHit = hits.first(where: { $0["id"] as? String == "rwkv" }) {
            #expect(((rwkvHit["metadata"] as? [String: Any])?["lang"] as? String) == "en")
        }

        let plain = try await server.post("/collections/docs/search", json: ["query": "what is RWKV", "rerank": false])
        let plainHits = try #require((try plain.json() as? [String: Any])?["hits"] as? [[String: Any]])
        #expect(plainHits.count == 3)
        #expect(plainHits.allSatisfy { $0["rerank_score"] == nil || $0["rerank_score"] is NSNull })

        // Replace, read back, delete.
        let put = try await server.send(.PUT, "/collections/docs/documents/fruit",
                                        body: try JSONSerialization.data(withJSONObject: ["text": "Apples are red."]))
        #expect(put.status == .ok, "\(put.text)")
        #expect((((try put.json() as? [String: Any])?["results"] as? [[String: Any]])?.first?["outcome"] as? String) == "updated")
        let got = try await server.get("/collections/docs/documents/fruit")
        #expect(((try got.json() as? [String: Any])?["text"] as? String) == "Apples are red.")
        let del = try await server.send(.DELETE, "/collections/docs/documents/fruit", body: nil)
        #expect(del.status == .ok, "\(del.text)")
        let again = try await server.send(.DELETE, "/collections/docs/documents/fruit", body: nil)
        #expect(again.status == .notFound, "\(again.text)")
        let list = try await server.get("/collections/docs/documents")
        #expect((((try list.json() as? [String: Any])?["documents"] as? [Any])?.count) == 2)

        let info = try await server.get("/collections")
        let names = ((try info.json() as? [String: Any])?["collections"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(names == ["docs"])

        let gone = try await server.send(.DELETE, "/collections/docs", body: nil)
        #expect(gone.status == .noContent, "\(gone.text)")
        #expect(!(FileManager.default.fileExists(atPath: root.appendingPathComponent("docs").path)))
    }

    /// A collection records the weight precision it was computed in; a server whose models compute in
    /// another one serves it and says so in the collection's info.
    @Test func weightPrecisionMismatchIsReported() async throws {
        do {
            let fp32 = try await TestServer.start { $0.collectionsRoot = self.root }
            defer { Task { try? await fp32.stop() } }
            #expect(try await fp32.post("/collections", json: ["name": "p"]).status == .created)
            #expect(try await fp32.post("/collections/p/documents", json: ["documents": [["id": "a", "text": "RWKV is an RNN."]]]).status == .ok)
            let info = try #require(try await fp32.get("/collections/p").json() as? [String: Any])
            #expect(info["weight_precision"] as? String == "fp32")
            #expect(info["weight_precision_mismatch"] is NSNull, "\(info)")
            try await fp32.stop()
        }
        let bf16Model = try ServedModel.load(model: Fixtures.embeddingCheckpoint("tiny-bf16"),
                                             reranker: Fixtures.rerankerCheckpoint("tiny-bf16"), precision: .bf16)
        let bf16 = try await TestServer.start(served: bf16Model) { $0.collectionsRoot = self.root }
        defer { Task { try? await bf16.stop() } }
        let info = try #require(try await bf16.get("/collections/p").json() as? [String: Any])
        #expect(info["weight_precision"] as? String == "fp32")
        let note = try #require(info["weight_precision_mismatch"] as? String, "\(info)")
        #expect(note.contains("computed with fp32 weights, these models compute in bf16"), "\(note)")
        let search = try await bf16.post("/collections/p/search", json: ["query": "what is RWKV", "top_k": 1])
        #expect(search.status == .ok, "\(search.text)")
    }

    @Test func unknownCollectionAndBadDocuments() async throws {
        let server = try await TestServer.start { $0.collectionsRoot = self.root }
        defer { Task { try? await server.stop() } }
        for (path, body) in [("/collections/nope/search", ["query": "q"]), ("/collections/nope/documents", ["documents": [["text": "t"]]])] as [(String, [String: Any])] {
            let r = try await server.post(path, json: body)
            #expect(r.status == .notFound, "\(r.text)")
            #expect(((try r.json() as? [String: Any])?["error"] as? String) != nil)
        }
        let missing = try await server.get("/collections/nope")
        #expect(missing.status == .notFound)
        _ = try await server.post("/collections", json: ["name": "c"])
        let empty = try await server.post("/collections/c/documents", json: ["documents": [[String: Any]]()])
        #expect(empty.status == .badRequest, "\(empty.text)")
        let emptyText = try await server.post("/collections/c/documents", json: ["documents": [["text": ""]]])
        #expect(emptyText.status == .unprocessableEntity, "\(emptyText.text)")
        let emptyQuery = try await server.post("/collections/c/search", json: ["query": ""])
        #expect(emptyQuery.status == .unprocessableEntity, "\(emptyQuery.text)")
        let badK = try await server.post("/collections/c/search", json: ["query": "q", "top_k": 0])
        #expect(badK.status == .unprocessableEntity, "\(badK.text)")
        let emptySearch = try await server.post("/collections/c/search", json: ["query": "q"])
        #expect(emptySearch.status == .ok, "\(emptySearch.text)")
    }

    /// `--collection DIR` folders are opened (created when empty) and survive a restart.
    @Test func commandLineCollectionPersistsAcrossRestart() async throws {
        let folder = root.appendingPathComponent("kept")
        let first = try await TestServer.start { $0.collections = [folder] }
        let add = try await first.post("/collections/kept/documents", json: ["documents": [["id": "a", "text": "alpha"], ["id": "b", "text": "beta"]]])
        #expect(add.status == .ok, "\(add.text)")
        try await first.stop()

        let second = try await TestServer.start { $0.collections = [folder] }
        defer { Task { try? await second.stop() } }
        let info = try await second.get("/collections/kept")
        #expect(((try info.json() as? [String: Any])?["documents"] as? Int) == 2, "\(info.text)")
        let create = try await second.post("/collections", json: ["name": "new"])
        #expect(create.status.code / 100 == 4, "no --collections-dir: creation is refused")
    }
}
}
