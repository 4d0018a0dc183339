import Foundation
import RWKVRetrieval
import RWKVServer
import Testing
import RWKVTestSupport

/// The ANN fields of the collection routes (issue 11) against a real server.
@Suite struct CollectionANNRouteTests {
    @Test func annSettingsExactSearchAndDensePath() async throws {
        let root = try TemporaryDirectory()
        defer { root.cleanUp() }
        let server = try await TestServer.start { $0.collectionsRoot = root.url }
        defer { Task { try? await server.stop() } }

        let bad = try await server.post("/collections", json: ["name": "bad", "ann": ["kind": "ivf"]])
        #expect(bad.status == .unprocessableEntity && bad.text.contains("ann.kind"), "\(bad.text)")
        let badM = try await server.post("/collections", json: ["name": "bad", "ann": ["m": 1]])
        #expect(badM.status == .unprocessableEntity && badM.text.contains("M must be in 2...128"), "\(badM.text)")
        #expect(!FileManager.default.fileExists(atPath: root.path("bad").path), "a refused create writes nothing")

        let created = try await server.post("/collections", json: ["name": "docs", "ann": ["kind": "hnsw", "m": 8, "ef_search": 32]])
        #expect(created.status == .created, "\(created.text)")
        let info = try #require(try created.json() as? [String: Any])
        let ann = try #require(info["ann"] as? [String: Any])
        #expect((ann["settings"] as? [String: String])?["m"] == "8" && (ann["settings"] as? [String: String])?["kind"] == "hnsw")

        let docs: [[String: Any]] = (0..<6).map { ["id": "d\($0)", "text": "Document number \($0) about topic \($0 % 3)."] }
        let add = try await server.post("/collections/docs/documents", json: ["documents": docs, "ann": ["ef_search": 48]])
        #expect(add.status == .ok, "\(add.text)")
        func search(_ body: [String: Any]) async throws -> [String: Any] {
            let r = try await server.post("/collections/docs/search", json: body)
            #expect(r.status == .ok, "\(r.text)")
            return try #require(try r.json() as? [String: Any])
        }
        let viaIndex = try await search(["query": "topic 1", "top_k": 3, "rerank": false, "mode": "dense"])
        #expect(viaIndex["dense_path"] as? String == "hnsw")
        #expect((viaIndex["hits"] as? [Any])?.count == 3)
        let exact = try await search(["query": "topic 1", "top_k": 3, "rerank": false, "mode": "dense", "exact": true])
        #expect(exact["dense_path"] as? String == "exact")
        // The same hits either way at this size.
        let ids = { (o: [String: Any]) in ((o["hits"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String } }
        #expect(ids(viaIndex) == ids(exact))
        let lexical = try await search(["query": "topic", "top_k": 3, "rerank": false, "mode": "lexical"])
        #expect(lexical["dense_path"] == nil || lexical["dense_path"] is NSNull)
        let onDisk = try DocumentCollection.open(at: root.path("docs"), models: nil)
        #expect(onDisk.annSettings == ANNSettings(kind: .hnsw, m: 8, efSearch: 48))
        #expect(onDisk.stats().ann?.file != nil, "the index is saved with the segments")

        // int8 codes with their oversampling: the response names the path, the info the settings.
        let badOversample = try await server.post("/collections/docs/documents", json: ["documents": [docs[0]], "ann": ["kind": "int8", "oversample": 0]])
        #expect(badOversample.status == .unprocessableEntity && badOversample.text.contains("oversample must be in 1...1000"), "\(badOversample.text)")
        let codes = try await server.post("/collections/docs/documents", json: ["documents": [docs[0]], "ann": ["kind": "int8", "oversample": 5]])
        #expect(codes.status == .ok, "\(codes.text)")
        let viaCodes = try await search(["query": "topic 1", "top_k": 3, "rerank": false, "mode": "dense"])
        #expect(viaCodes["dense_path"] as? String == "int8-rescored")
        #expect(ids(viaCodes) == ids(exact))
        let described = try #require(try await server.get("/collections/docs").json() as? [String: Any])
        let codesInfo = try #require(described["ann"] as? [String: Any])
        #expect(codesInfo["kind"] as? String == "int8" && codesInfo["elements"] as? Int == 6, "\(codesInfo)")
        #expect((codesInfo["settings"] as? [String: String])?["oversample"] == "5")

        // The state retention: refused with the field named when malformed, reported in the info.
        #expect(described["states"] as? String == "all" && described["passages_with_state"] as? Int == 6)
        let badStates = try await server.post("/collections/docs/documents", json: ["documents": [docs[0]], "states": "first:0"])
        #expect(badStates.status == .unprocessableEntity && badStates.text.contains("states") && badStates.text.contains(">= 1"), "\(badStates.text)")
        let stateless = try await server.post("/collections/docs/documents",
                                              json: ["documents": [["id": "n1", "text": "A new one."]], "states": "none"])
        #expect(stateless.status == .ok, "\(stateless.text)")
        let after = try #require(try await server.get("/collections/docs").json() as? [String: Any])
        #expect(after["states"] as? String == "none" && after["passages_with_state"] as? Int == 6 && after["documents"] as? Int == 7, "\(after)")
    }
}
