import EmbeddingRWKV
import Foundation
import RWKVServer
import Testing
import RWKVTestSupport

/// The routes and fields that make existing TEI, OpenAI, Jina and Cohere clients work, against a
/// real server on loopback; every value is compared with the engine's own answer.
@Suite struct CompatibilityRouteTests {
    static let texts = ["What is RWKV?", "A recurrent network with a state.", "Paris is in France.", "猫在睡觉。"]

    func object(_ reply: TestServer.Reply) throws -> [String: Any] {
        try #require(try reply.json() as? [String: Any], "\(reply.text)")
    }

    @Test func largeClientBatchesAreSplitIntoEngineBatchesByTokens() async throws {
        let server = try await TestServer.start { $0.maxBatchTokens = 48 }
        defer { Task { try? await server.stop() } }
        let texts = (0..<40).map { "text \($0): " + Self.texts[$0 % Self.texts.count] }
        let r = try await server.post("/embed", json: ["inputs": texts])
        #expect(r.status == .ok, "\(r.text)")
        let vectors = try #require(try r.json() as? [[Double]])
        #expect(vectors.count == 40)
        for (text, v) in zip(texts, vectors) {
            #expect(maxAbsDiff(v.map(Float.init), try engineEmbedding(text)) <= 1e-5)
        }
        let metrics = try await server.get("/metrics").text
        // 40 texts of ~10 tokens in passes of at most 48 tokens: several forward passes.
        let passes = try #require(metricValue(metrics, "te_batch_next_size_count"))
        #expect(passes >= 8)
    }

    @Test func requestsOverTheTokenBudgetAreRefusedWith422() async throws {
        let server = try await TestServer.start { $0.maxClientBatchTokens = 12 }
        defer { Task { try? await server.stop() } }
        let r = try await server.post("/embed", json: ["inputs": Self.texts])
        #expect(r.status.code == 422)
        let body = try object(r)
        #expect(body["error_type"] as? String == "Validation")
        #expect((body["error"] as? String)?.contains("maximum allowed 12 tokens per request") == true)
    }

    @Test func tokenIDsOnV1AreRefusedByDefaultAndTakenWithTheOption() async throws {
        let refusing = try await TestServer.start()
        defer { Task { try? await refusing.stop() } }
        let ids = FixtureModel.served.tokenizer.encode("Hello, world", addEOS: false)
        let refused = try await refusing.post("/v1/embeddings", json: ["input": [ids]])
        #expect(refused.status.code == 422)
        let error = try #require(try object(refused)["error"] as? [String: Any])
        let message = try #require(error["message"] as? String)
        #expect(message.contains("check_embedding_ctx_length=False"))
        #expect(message.contains("token-id input accepted"))
        #expect(error["param"] as? String == "input")

        let accepting = try await TestServer.start { $0.acceptTokenIDs = true }
        defer { Task { try? await accepting.stop() } }
        let taken = try await accepting.post("/v1/embeddings", json: ["input": [ids], "encoding_format": "float"])
        #expect(taken.status == .ok, "\(taken.text)")
        let data = try #require(try object(taken)["data"] as? [[String: Any]])
        let vector = try #require(floats(data.first?["embedding"]))
        #expect(maxAbsDiff(vector, try engineEmbedding("Hello, world")) <= 1e-5)
    }

    @Test func dimensionsOtherThanTheWidthAreRefused() async throws {
        let server = try await TestServer.start()
        defer { Task { try? await server.stop() } }
        let width = FixtureModel.served.dimensions
        let full = try await server.post("/embed", json: ["inputs": "x", "dimensions": width])
        #expect(full.status == .ok)
        for path in ["/embed", "/v1/embeddings"] {
            let key = path == "/embed" ? "inputs" : "input"
            let r = try await server.post(path, json: [key: "x", "dimensions": width / 2])
            #expect(r.status.code == 422, "\(path): \(r.text)")
            #expect(r.text.contains("Matryoshka"))
        }
    }

    @Test func endpointEntryPointsSimilarityEmbedAllPredictAndPing() async throws {
        let server = try await TestServer.start()
        defer { Task { try? await server.stop() } }
        let expected = try Self.texts.map { try engineEmbedding($0) }
        for path in ["/", "/invocations", "/embed"] {
            let r = try await server.post(path, json: ["inputs": Self.texts])
            #expect(r.status == .ok, "\(path): \(r.text)")
            let vectors = try #require(try r.json() as? [[Double]])
            for (v, e) in zip(vectors, expected) { #expect(maxAbsDiff(v.map(Float.init), e) <= 1e-5) }
        }
        // huggingface_hub's format: options under `parameters`.
        let nested = try await server.post("/", json: ["inputs": "x", "parameters": ["normalize": false]])
        let raw = try #require((try nested.json() as? [[Double]])?.first)
        #expect(maxAbsDiff(raw.map(Float.init), try engineEmbedding("x", normalize: false)) <= 1e-5)

        let sts = try Self.texts.map { try engineEmbedding($0, task: .similarity) }
        let cosines = sts.dropFirst().map { v in zip(sts[0], v).reduce(Float(0)) { $0 + $1.0 * $1.1 } }
        let similarityBody: [String: Any] = ["inputs": ["source_sentence": Self.texts[0], "sentences": Array(Self.texts.dropFirst())]]
        for path in ["/similarity", "/"] {
            let r = try await server.post(path, json: similarityBody)
            #expect(r.status == .ok, "\(path): \(r.text)")
            #expect(maxAbsDiff(try #require(floats(try r.json())), Array(cosines)) <= 1e-5)
        }

        let all = try await server.post("/embed_all", json: ["inputs": ["Hello world"]])
        #expect(all.status == .ok, "\(all.text)")
        let rows = try #require((try all.json() as? [[[Double]]])?.first)
        #expect(rows.count == FixtureModel.served.tokenizer.encode("Hello world", addEOS: true).count)
        // The EOS row is the pooled embedding (single protocol) before normalisation.
        #expect(maxAbsDiff(rows.last!.map(Float.init), try engineEmbedding("Hello world", normalize: false)) <= 1e-4)

        let predict = try await server.post("/predict", json: ["inputs": "x"])
        #expect(predict.status.code == 424)
        #expect(try object(predict)["error_type"] as? String == "Backend")
        for path in ["/", "/ping", "/health"] {
            let r = try await server.get(path)
            #expect(r.status == .ok, "\(path)")
        }
        let info = try object(try await server.get("/info"))
        #expect(info["served_model_name"] as? String == "tiny-bf16")
        #expect(info.keys.contains("model_sha") && info["model_sha"] is NSNull)
        #expect(info["docker_label"] is NSNull)
    }

    @Test func cohereAndJinaRerankShapes() async throws {
        let server = try await TestServer.start()
        defer { Task { try? await server.stop() } }
        let reranker = try #require(FixtureModel.served.reranker)
        let query = "Which network keeps a state?"
        let docs = ["RWKV keeps a recurrent state.", "Bananas are yellow.", "Transformers attend to all tokens."]
        let expected = try reranker.rerankOnline(query: query, documents: docs)

        let v2 = try object(try await server.post("/v2/rerank", json: ["model": "r", "query": query, "documents": docs, "top_n": 2]))
        let results = try #require(v2["results"] as? [[String: Any]])
        #expect(results.count == 2)
        for r in results {
            let i = try #require(r["index"] as? Int)
            #expect(abs(try #require((r["relevance_score"] as? NSNumber)?.floatValue) - expected[i].score) <= 1e-5)
            #expect(r["document"] == nil)
        }
        #expect(v2["id"] is String && v2["meta"] is [String: Any])

        // Cohere v1: object documents ranked by `rank_fields`, echoed whole.
        let objects = docs.enumerated().map { ["title": "t\($0.offset)", "text": $0.element, "id": $0.offset] as [String: Any] }
        let v1 = try object(try await server.post("/v1/rerank", json: ["query": query, "documents": objects, "rank_fields": ["text"]]))
        for r in try #require(v1["results"] as? [[String: Any]]) {
            let i = try #require(r["index"] as? Int)
            #expect(abs(try #require((r["relevance_score"] as? NSNumber)?.floatValue) - expected[i].score) <= 1e-5)
            let echoed = try #require(r["document"] as? [String: Any])
            #expect(echoed["title"] as? String == "t\(i)" && echoed["id"] as? Int == i)
        }
        let combined = docs.enumerated().map { "title: t\($0.offset)\ntext: \($0.element)" }
        let expectedCombined = try reranker.rerankOnline(query: query, documents: combined)
        let both = try object(try await server.post("/v1/rerank", json: ["query": query, "documents": objects, "rank_fields": ["title", "text"]]))
        for r in try #require(both["results"] as? [[String: Any]]) {
            let i = try #require(r["index"] as? Int)
            #expect(abs(try #require((r["relevance_score"] as? NSNumber)?.floatValue) - expectedCombined[i].score) <= 1e-5)
        }

        // max_tokens_per_doc cuts each document to that many tokens before ranking.
        let cutDocs = docs.map { FixtureModel.served.tokenizer.encode($0, addEOS: false) }
        let head = FixtureModel.served.tokenizer.encode(StateReranker.instruction + "Document: ", addEOS: false)
        let tail = FixtureModel.served.tokenizer.encode("\nQuery: \(query)", addEOS: true)
        let expectedCut = try reranker.rerankOnline(tokens: cutDocs.map { head + Array($0.prefix(2)) + tail })
        let cut = try object(try await server.post("/v2/rerank", json: ["query": query, "documents": docs, "max_tokens_per_doc": 2]))
        for r in try #require(cut["results"] as? [[String: Any]]) {
            let i = try #require(r["index"] as? Int)
            #expect(abs(try #require((r["relevance_score"] as? NSNumber)?.floatValue) - expectedCut[i].score) <= 1e-5)
        }

        // Errors carry `detail` (Jina clients) and `message` (Cohere) besides OpenAI's object.
        let bad = try await server.post("/v1/rerank", json: ["query": "", "documents": docs])
        #expect(bad.status.code == 422)
        let body = try object(bad)
        #expect((body["detail"] as? String)?.contains("`query` cannot be empty") == true)
        #expect(body["message"] as? String == body["detail"] as? String)
        #expect(body["error"] is [String: Any])

        let noReranker = try await TestServer.start(served: FixtureModel.embeddingOnly)
        defer { Task { try? await noReranker.stop() } }
        let missing = try await noReranker.post("/rerank", json: ["query": "q", "texts": ["a"]])
        #expect(missing.status.code == 424)
        #expect((try object(missing)["error"] as? String)?.contains("not a re-ranker") == true)
    }

    @Test func corsAnyOriginByDefaultAndOnlyListedOriginsWhenConfigured() async throws {
        let open = try await TestServer.start()
        defer { Task { try? await open.stop() } }
        let preflight = try await open.send(.OPTIONS, "/embed", body: nil, headers: [("origin", "http://a.test"), ("access-control-request-method", "POST")])
        #expect(preflight.status.code == 204)
        #expect(preflight.headers["access-control-allow-origin"].first == "*")
        let error = try await open.post("/embed", json: ["inputs": ""], headers: [("origin", "http://a.test")])
        #expect(error.status.code == 422)
        #expect(error.headers["access-control-allow-origin"].first == "*")

        let listed = try await TestServer.start { $0.corsAllowOrigins = ["http://ok.test"] }
        defer { Task { try? await listed.stop() } }
        let ok = try await listed.post("/embed", json: ["inputs": "x"], headers: [("origin", "http://ok.test")])
        #expect(ok.headers["access-control-allow-origin"].first == "http://ok.test")
        #expect(ok.headers["vary"].first == "Origin")
        let other = try await listed.post("/embed", json: ["inputs": "x"], headers: [("origin", "http://evil.test")])
        #expect(other.status == .ok && other.headers["access-control-allow-origin"].isEmpty)
        let refused = try await listed.send(.OPTIONS, "/embed", body: nil, headers: [("origin", "http://evil.test"), ("access-control-request-method", "POST")])
        #expect(refused.status.code == 403)
    }

    @Test func theOpenAPIDocumentAndTheDocsPageAreServed() async throws {
        let server = try await TestServer.start()
        defer { Task { try? await server.stop() } }
        let served = try await server.get("/api-doc/openapi.json")
        #expect(served.status == .ok)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let checkedIn = try Data(contentsOf: root.appendingPathComponent("Sources/RWKVServer/Resources/openapi.json"))
        #expect(served.body == checkedIn)
        let doc = try #require(try served.json() as? [String: Any])
        #expect((doc["openapi"] as? String)?.hasPrefix("3.1") == true)
        let paths = try #require(doc["paths"] as? [String: Any])
        for path in ["/", "/embed", "/embed_all", "/similarity", "/predict", "/invocations", "/rerank", "/tokenize", "/decode",
                     "/info", "/health", "/ping", "/metrics", "/v1/embeddings", "/embeddings", "/v1/models", "/v1/rerank",
                     "/v2/rerank", "/docs", "/api-doc/openapi.json", "/collections", "/collections/{name}/search"] {
            #expect(paths[path] != nil, "\(path) is not documented")
        }
        let page = try await server.get("/docs")
        #expect(page.status == .ok && page.text.contains("/api-doc/openapi.json"))
        #expect(!page.text.contains("https://") && !page.text.contains("http://"))
    }
}
