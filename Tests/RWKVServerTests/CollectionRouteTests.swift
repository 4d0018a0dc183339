import Foundation
import RWKVRetrieval
import RWKVServer
import XCTest

/// Collection routes against a real server, with collections in a temporary folder.
final class CollectionRouteTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("rwkv-server-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    func testCollectionLifecycleAndSearch() async throws {
        let server = try await TestServer.start { $0.collectionsRoot = self.root }
        defer { Task { try? await server.stop() } }

        let created = try await server.post("/collections", json: ["name": "docs"])
        XCTAssertEqual(created.status, .created, created.text)
        let dup = try await server.post("/collections", json: ["name": "docs"])
        XCTAssertEqual(dup.status, .conflict, dup.text)
        let badName = try await server.post("/collections", json: ["name": "../evil"])
        XCTAssertEqual(badName.status, .unprocessableEntity, badName.text)

        let docs: [[String: Any]] = [
            ["id": "rwkv", "text": "RWKV is a recurrent network with transformer-level quality.", "metadata": ["lang": "en", "n": 1]],
            ["id": "fruit", "text": "Bananas are yellow and grow in bunches."],
            ["text": "State space models carry a fixed-size state through the sequence."],
        ]
        let add = try await server.post("/collections/docs/documents", json: ["documents": docs])
        XCTAssertEqual(add.status, .ok, add.text)
        let addBody = try XCTUnwrap(add.json() as? [String: Any])
        XCTAssertEqual(addBody["durable"] as? Bool, true)
        let results = try XCTUnwrap(addBody["results"] as? [[String: Any]])
        XCTAssertEqual(results.map { $0["outcome"] as? String }, ["added", "added", "added"])
        let generatedID = try XCTUnwrap(results[2]["id"] as? String)

        // Durable: a separate read-only open of the folder sees the documents now.
        let onDisk = try DocumentCollection.open(at: root.appendingPathComponent("docs"), models: nil)
        XCTAssertEqual(Set(onDisk.list().map(\.id)), ["rwkv", "fruit", generatedID])
        XCTAssertTrue(onDisk.list().allSatisfy(\.hasState))

        let search = try await server.post("/collections/docs/search", json: ["query": "what is RWKV", "top_k": 2, "candidates": 3])
        XCTAssertEqual(search.status, .ok, search.text)
        let s = try XCTUnwrap(search.json() as? [String: Any])
        let hits = try XCTUnwrap(s["hits"] as? [[String: Any]])
        XCTAssertEqual(hits.count, 2)
        let rerankScores = hits.compactMap { ($0["rerank_score"] as? NSNumber)?.floatValue }
        XCTAssertEqual(rerankScores.count, 2)
        XCTAssertEqual(rerankScores, rerankScores.sorted(by: >))
        XCTAssertTrue(hits.allSatisfy { $0["embedding_score"] is NSNumber && $0["rerank_mode"] as? String == "offline" })
        let timings = try XCTUnwrap(s["timings"] as? [String: Any])
        for key in ["query_embedding_ms", "retrieval_ms", "state_load_ms", "rerank_ms", "total_ms"] {
            XCTAssertNotNil(timings[key] as? NSNumber, key)
        }
        XCTAssertEqual(s["candidates_reranked"] as? Int, 3)
        if let rwkvHit = hits.first(where: { $0["id"] as? String == "rwkv" }) {
            XCTAssertEqual((rwkvHit["metadata"] as? [String: Any])?["lang"] as? String, "en")
        }

        let plain = try await server.post("/collections/docs/search", json: ["query": "what is RWKV", "rerank": false])
        let plainHits = try XCTUnwrap((try plain.json() as? [String: Any])?["hits"] as? [[String: Any]])
        XCTAssertEqual(plainHits.count, 3)
        XCTAssertTrue(plainHits.allSatisfy { $0["rerank_score"] == nil || $0["rerank_score"] is NSNull })

        // Replace, read back, delete.
        let put = try await server.send(.PUT, "/collections/docs/documents/fruit",
                                        body: try JSONSerialization.data(withJSONObject: ["text": "Apples are red."]))
        XCTAssertEqual(put.status, .ok, put.text)
        XCTAssertEqual(((try put.json() as? [String: Any])?["results"] as? [[String: Any]])?.first?["outcome"] as? String, "updated")
        let got = try await server.get("/collections/docs/documents/fruit")
        XCTAssertEqual((try got.json() as? [String: Any])?["text"] as? String, "Apples are red.")
        let del = try await server.send(.DELETE, "/collections/docs/documents/fruit", body: nil)
        XCTAssertEqual(del.status, .ok, del.text)
        let again = try await server.send(.DELETE, "/collections/docs/documents/fruit", body: nil)
        XCTAssertEqual(again.status, .notFound, again.text)
        let list = try await server.get("/collections/docs/documents")
        XCTAssertEqual(((try list.json() as? [String: Any])?["documents"] as? [Any])?.count, 2)

        let info = try await server.get("/collections")
        let names = ((try info.json() as? [String: Any])?["collections"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        XCTAssertEqual(names, ["docs"])

        let gone = try await server.send(.DELETE, "/collections/docs", body: nil)
        XCTAssertEqual(gone.status, .noContent, gone.text)
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("docs").path))
    }

    func testUnknownCollectionAndBadDocuments() async throws {
        let server = try await TestServer.start { $0.collectionsRoot = self.root }
        defer { Task { try? await server.stop() } }
        for (path, body) in [("/collections/nope/search", ["query": "q"]), ("/collections/nope/documents", ["documents": [["text": "t"]]])] as [(String, [String: Any])] {
            let r = try await server.post(path, json: body)
            XCTAssertEqual(r.status, .notFound, r.text)
            XCTAssertNotNil((try r.json() as? [String: Any])?["error"] as? String)
        }
        let missing = try await server.get("/collections/nope")
        XCTAssertEqual(missing.status, .notFound)
        _ = try await server.post("/collections", json: ["name": "c"])
        let empty = try await server.post("/collections/c/documents", json: ["documents": [[String: Any]]()])
        XCTAssertEqual(empty.status, .badRequest, empty.text)
        let emptyText = try await server.post("/collections/c/documents", json: ["documents": [["text": ""]]])
        XCTAssertEqual(emptyText.status, .unprocessableEntity, emptyText.text)
        let emptyQuery = try await server.post("/collections/c/search", json: ["query": ""])
        XCTAssertEqual(emptyQuery.status, .unprocessableEntity, emptyQuery.text)
        let badK = try await server.post("/collections/c/search", json: ["query": "q", "top_k": 0])
        XCTAssertEqual(badK.status, .unprocessableEntity, badK.text)
        let emptySearch = try await server.post("/collections/c/search", json: ["query": "q"])
        XCTAssertEqual(emptySearch.status, .ok, emptySearch.text)
    }

    /// `--collection DIR` folders are opened (created when empty) and survive a restart.
    func testCommandLineCollectionPersistsAcrossRestart() async throws {
        let folder = root.appendingPathComponent("kept")
        let first = try await TestServer.start { $0.collections = [folder] }
        let add = try await first.post("/collections/kept/documents", json: ["documents": [["id": "a", "text": "alpha"], ["id": "b", "text": "beta"]]])
        XCTAssertEqual(add.status, .ok, add.text)
        try await first.stop()

        let second = try await TestServer.start { $0.collections = [folder] }
        defer { Task { try? await second.stop() } }
        let info = try await second.get("/collections/kept")
        XCTAssertEqual((try info.json() as? [String: Any])?["documents"] as? Int, 2, info.text)
        let create = try await second.post("/collections", json: ["name": "new"])
        XCTAssertEqual(create.status.code / 100, 4, "no --collections-dir: creation is refused")
    }
}
