import EmbeddingRWKV
import Foundation
import RWKVServer
import Testing
import RWKVTestSupport

/// Every route against a real server on loopback, compared with the engine's own results.
extension SerialServerSuites {
@Suite(.serialized) struct RouteTests {
    @Test func teiEmbedMatchesEngine() async throws {
        let server = try await TestServer.start()
        defer { Task { try? await server.stop() } }

        let one = try await server.post("/embed", json: ["inputs": "What is RWKV?"])
        #expect(one.status == .ok, "\(one.text)")
        let vectors = try #require(one.json() as? [[Any]])
        #expect(vectors.count == 1)
        let expected = try engineEmbedding("What is RWKV?")
        #expect(maxAbsDiff(try #require(floats(vectors[0])), expected) < 1e-5)
        for name in ["x-compute-time", "x-queue-time", "x-inference-time", "x-total-time"] {
            #expect(one.headers.first(name: name) != nil, "\(name)")
        }

        // A list, not normalised, with another head and protocol.
        let texts = ["first document", "a second, longer document about state space models"]
        let many = try await server.post("/embed", json: ["inputs": texts, "normalize": false, "task": "sts", "protocol": "paper"])
        #expect(many.status == .ok, "\(many.text)")
        let got = try #require(many.json() as? [[Any]])
        #expect(got.count == 2)
        for (i, text) in texts.enumerated() {
            let e = try engineEmbedding(text, task: .similarity, inputProtocol: .paper, normalize: false)
            #expect(maxAbsDiff(try #require(floats(got[i])), e) < 1e-4)
        }

        // The query instruction.
        let q = try await server.post("/embed", json: ["inputs": "rwkv", "instruction": "Find it"])
        let qv = try #require(floats((try q.json() as? [Any])?.first))
        #expect(maxAbsDiff(qv, try engineEmbedding(Embedder.query("rwkv", instruction: "Find it"))) < 1e-5)
    }

    @Test func openAIEmbeddings() async throws {
        let server = try await TestServer.start { $0.acceptTokenIDs = true }  // token ids are tested below
        defer { Task { try? await server.stop() } }
        let dims = FixtureModel.served.dimensions

        let r = try await server.post("/v1/embeddings", json: ["input": ["alpha", "beta"], "model": "tiny-bf16"])
        #expect(r.status == .ok, "\(r.text)")
        let obj = try #require(r.json() as? [String: Any])
        #expect((obj["object"] as? String) == "list")
        #expect((obj["model"] as? String) == "tiny-bf16")
        let data = try #require(obj["data"] as? [[String: Any]])
        #expect(data.count == 2)
        #expect((data[1]["index"] as? Int) == 1)
        #expect((data[0]["object"] as? String) == "embedding")
        let alpha = try #require(floats(data[0]["embedding"]))
        #expect(alpha.count == dims)
        #expect(maxAbsDiff(alpha, try engineEmbedding("alpha")) < 1e-5)
        let usage = try #require(obj["usage"] as? [String: Any])
        let expectedTokens = ["alpha", "beta"].map { FixtureModel.served.tokenizer.encode($0).count + 1 }.reduce(0, +)
        #expect((usage["prompt_tokens"] as? Int) == expectedTokens)
        #expect((usage["total_tokens"] as? Int) == expectedTokens)

        // base64: little-endian float32.
        let b = try await server.post("/v1/embeddings", json: ["input": "alpha", "encoding_format": "base64", "dimensions": dims])
        #expect(b.status == .ok, "\(b.text)")
        let b64 = try #require(((try b.json() as? [String: Any])?["data"] as? [[String: Any]])?.first?["embedding"] as? String)
        let bytes = try #require(Data(base64Encoded: b64))
        #expect(bytes.count == dims * 4)
        let raw = [UInt8](bytes)
        var decoded: [Float] = []
        for i in 0..<dims {
            var bits: UInt32 = 0
            for k in 0..<4 { bits |= UInt32(raw[4 * i + k]) << UInt32(8 * k) }
            decoded.append(Float(bitPattern: bits))
        }
        // (Bit-exact to the float form of the same request; `alpha` above came from a batch of two,
        // where BLAS blocking may move the last bits.)
        #expect(maxAbsDiff(decoded, alpha) < 1e-5)
        let single = try await server.post("/v1/embeddings", json: ["input": "alpha"])
        let singleFloats = try #require(floats(((try single.json() as? [String: Any])?["data"] as? [[String: Any]])?.first?["embedding"]))
        #expect(decoded == singleFloats)

        // Token ids (one list and a list of lists; with --accept-token-ids) give the same vector as the text.
        let ids = FixtureModel.served.tokenizer.encode("alpha")
        for input: Any in [ids, [ids, ids]] {
            let t = try await server.post("/v1/embeddings", json: ["input": input])
            #expect(t.status == .ok, "\(t.text)")
            let v = try #require(floats(((try t.json() as? [String: Any])?["data"] as? [[String: Any]])?.first?["embedding"]))
            #expect(maxAbsDiff(v, alpha) < 1e-6)
        }

        // Other dimensions: OpenAI-style error.
        let d = try await server.post("/v1/embeddings", json: ["input": "x", "dimensions": dims + 1])
        #expect(d.status == .unprocessableEntity)
        let err = try #require((try d.json() as? [String: Any])?["error"] as? [String: Any])
        #expect((err["type"] as? String) == "invalid_request_error")
        #expect((err["param"] as? String) == "dimensions")
        #expect((err["message"] as? String) != nil)

        let models = try await server.get("/v1/models")
        #expect(models.status == .ok)
        let list = try #require((try models.json() as? [String: Any])?["data"] as? [[String: Any]])
        #expect((list.first?["id"] as? String) == "tiny-bf16")
        #expect((list.first?["object"] as? String) == "model")
    }

    @Test func rerankRoutes() async throws {
        let server = try await TestServer.start()
        defer { Task { try? await server.stop() } }
        let query = "what is a state space model"
        let docs = ["RWKV is an RNN with transformer-level performance.", "Bananas are yellow.", "State space models carry a state."]
        let reranker = try #require(FixtureModel.served.reranker)
        let expected = try reranker.rerankOnline(query: query, documents: docs)

        let r = try await server.post("/rerank", json: ["query": query, "texts": docs, "return_text": true])
        #expect(r.status == .ok, "\(r.text)")
        let ranks = try #require(r.json() as? [[String: Any]])
        #expect(ranks.count == 3)
        let scores = ranks.map { ($0["score"] as? NSNumber)?.floatValue ?? .nan }
        #expect(scores == scores.sorted(by: >))
        for rank in ranks {
            let i = try #require(rank["index"] as? Int)
            #expect(abs(((rank["score"] as? NSNumber)?.floatValue ?? 0) - (expected[i].score)) <= 1e-5)
            #expect((rank["text"] as? String) == docs[i])
        }
        let raw = try await server.post("/rerank", json: ["query": query, "texts": docs, "raw_scores": true])
        let rawRanks = try #require(raw.json() as? [[String: Any]])
        for rank in rawRanks {
            let i = try #require(rank["index"] as? Int)
            #expect(abs(((rank["score"] as? NSNumber)?.floatValue ?? 0) - (expected[i].logit)) <= 1e-4)
            #expect(rank["text"] == nil)
        }

        let j = try await server.post("/v1/rerank", json: ["query": query, "documents": [docs[0], ["text": docs[1]], docs[2]], "top_n": 2])
        #expect(j.status == .ok, "\(j.text)")
        let obj = try #require(j.json() as? [String: Any])
        let results = try #require(obj["results"] as? [[String: Any]])
        #expect(results.count == 2)
        let best = expected.enumerated().max { $0.element.score < $1.element.score }!.offset
        #expect((results[0]["index"] as? Int) == best)
        #expect(((results[0]["document"] as? [String: Any])?["text"] as? String) == docs[best])
        #expect(((obj["usage"] as? [String: Any])?["total_tokens"] as? Int) != nil)
        #expect((obj["model"] as? String) == "tiny-bf16")

        let noDocs = try await server.post("/v1/rerank", json: ["query": query, "documents": docs, "return_documents": false])
        let r2 = try #require((try noDocs.json() as? [String: Any])?["results"] as? [[String: Any]])
        #expect(r2.count == 3)
        #expect(r2[0]["document"] == nil)
    }

    @Test func rerankWithoutRerankerIsAClearError() async throws {
        let server = try await TestServer.start(served: FixtureModel.embeddingOnly)
        defer { Task { try? await server.stop() } }
        let r = try await server.post("/rerank", json: ["query": "q", "texts": ["a"]])
        #expect(r.status.code / 100 == 4, "\(r.text)")
        #expect(((try r.json() as? [String: Any])?["error_type"]) != nil)
    }

    @Test func tokenizeDecodeInfoHealthMetrics() async throws {
        let server = try await TestServer.start()
        defer { Task { try? await server.stop() } }
        let tokenizer = FixtureModel.served.tokenizer

        let t = try await server.post("/tokenize", json: ["inputs": "Hello world"])
        #expect(t.status == .ok, "\(t.text)")
        let tokens = try #require((try t.json() as? [[[String: Any]]])?.first)
        let ids = tokens.compactMap { $0["id"] as? Int }
        #expect(ids == tokenizer.encode("Hello world", addEOS: true))
        #expect((tokens.last?["special"] as? Bool) == true)
        #expect((tokens.dropLast().compactMap { $0["text"] as? String }.joined()) == "Hello world")

        let d = try await server.post("/decode", json: ["ids": tokenizer.encode("Hello world")])
        #expect(d.status == .ok, "\(d.text)")
        #expect((try d.json() as? [String]) == ["Hello world"])
        let bad = try await server.post("/decode", json: ["ids": [70000]])
        #expect(bad.status == .unprocessableEntity, "\(bad.text)")

        let infoReply = try await server.get("/info")
        let info = try #require(try infoReply.json() as? [String: Any])
        #expect((info["model_id"] as? String) == "tiny-bf16")
        #expect((info["model_dtype"] as? String) == "float32")
        #expect((info["max_input_length"] as? Int) == 8192)
        #expect((info["max_batch_tokens"] as? Int) != nil)
        #expect((info["max_client_batch_size"] as? Int) != nil)
        #expect((info["version"] as? String) == ServerVersion.string)

        let health = try await server.get("/health")
        #expect(health.status == .ok)

        _ = try await server.post("/embed", json: ["inputs": "count me"])
        let metrics = try await server.get("/metrics")
        #expect(metrics.status == .ok)
        for name in ["te_request_count", "te_queue_size", "te_batch_next_size", "te_request_tokenization_duration",
                     "te_request_queue_duration", "te_request_inference_duration", "te_request_tokens"] {
            #expect(metrics.text.contains(name), "\(name)")
        }
        #expect((metricValue(metrics.text, #"te_request_success{method="single"}"#)) == 1)
    }
}
}
