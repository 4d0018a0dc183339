import Foundation
import RWKVServer
import Testing
import RWKVTestSupport

/// The collection metric families at `/metrics`, against a real loopback server.
@Suite struct CollectionMetricsTests {
    @Test func sizesStageLatenciesAndStateCache() async throws {
        let root = try TemporaryDirectory()
        defer { root.cleanUp() }
        let server = try await TestServer.start { $0.collectionsRoot = root.url }
        _ = try await server.post("/collections", json: ["name": "docs"])
        let docs: [[String: Any]] = [
            ["id": "a", "text": "RWKV is a recurrent network.", "metadata": ["k": 1]],
            ["id": "b", "text": "Bananas are yellow.", "metadata": ["k": 2]],
            ["id": "c", "text": "Rivers flow to the sea.", "metadata": ["k": 3]],
        ]
        #expect(try await server.post("/collections/docs/documents", json: ["documents": docs]).status == .ok)
        let noState = try await server.post("/collections/docs/documents", json: ["documents": [["id": "d", "text": "No cached state here."]], "store_states": false])
        #expect(noState.status == .ok, "\(noState.text)")

        // A hybrid search reranking all 4 passages (one online), a filtered dense one without rerank, a lexical one.
        let hybrid = try #require(try await server.post("/collections/docs/search", json: ["query": "what is RWKV", "top_k": 4, "candidates": 4]).json() as? [String: Any])
        #expect(hybrid["candidates_reranked"] as? Int == 4 && hybrid["online_fallbacks"] as? Int == 1, "\(hybrid)")
        let dense = try await server.post("/collections/docs/search", json: ["query": "rivers", "mode": "dense", "rerank": false, "filter": ["k": ["$gte": 2]]])
        #expect(dense.status == .ok, "\(dense.text)")
        let lexical = try await server.post("/collections/docs/search", json: ["query": "bananas", "mode": "lexical", "rerank": false])
        #expect(lexical.status == .ok, "\(lexical.text)")
        // /rerank of two documents with states: two hits.
        let rerank = try await server.post("/collections/docs/rerank", json: ["query": "q", "ids": ["a", "b"]])
        #expect(rerank.status == .ok, "\(rerank.text)")

        let metrics = try await server.get("/metrics").text
        let info = try #require(try await server.get("/collections/docs").json() as? [String: Any])
        let label = #"collection="docs""#
        #expect(metricValue(metrics, "rwkv_emb_collection_documents{\(label)}") == 4, "\(metrics)")
        #expect(metricValue(metrics, "rwkv_emb_collection_passages{\(label)}") == Double(info["passages"] as? Int ?? -1))
        let fileBytes = try #require(info["file_bytes"] as? [String: Int])
        #expect(metricValue(metrics, "rwkv_emb_collection_bytes{\(label)}") == Double(fileBytes.values.reduce(0, +)))
        #expect(metricValue(metrics, "rwkv_emb_collection_dead_bytes{\(label)}") == 0)
        #expect(metricValue(metrics, "rwkv_emb_collection_text_bytes{\(label)}") == Double(docs.reduce(0) { $0 + ($1["text"] as! String).utf8.count } + 21))
        // Stage histograms: each stage counted once per search that ran it.
        let expected: [(String, Double)] = [("dense", 2), ("lexical", 2), ("fusion", 1), ("filter", 1), ("state_load", 1), ("rerank", 1)]
        for (stage, count) in expected {
            let series = "rwkv_emb_collection_search_stage_duration_count{\(label),stage=\"\(stage)\"}"
            #expect(metricValue(metrics, series) == count, "\(series)\n\(metrics)")
            let sum = metricValue(metrics, "rwkv_emb_collection_search_stage_duration_sum{\(label),stage=\"\(stage)\"}")
            #expect(sum.map { $0 > 0 && $0 < 60 } == true, "\(stage) sum \(sum ?? -1)")
        }
        // State cache: 3 offline + 2 (rerank route) hits; 1 online miss.
        #expect(metricValue(metrics, "rwkv_emb_collection_state_cache_hits{\(label)}") == 5, "\(metrics)")
        #expect(metricValue(metrics, "rwkv_emb_collection_state_cache_misses{\(label)}") == 1)
        try await server.stop()
    }
}
