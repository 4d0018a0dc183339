import EmbeddingRWKV
import Foundation
import RWKVServer
import XCTest
import RWKVTestSupport

/// Every route against a real server on loopback, compared with the engine's own results.
final class RouteTests: XCTestCase {
    func testTEIEmbedMatchesEngine() async throws {
        let server = try await TestServer.start()
        defer { Task { try? await server.stop() } }

        let one = try await server.post("/embed", json: ["inputs": "What is RWKV?"])
        XCTAssertEqual(one.status, .ok, one.text)
        let vectors = try XCTUnwrap(one.json() as? [[Any]])
        XCTAssertEqual(vectors.count, 1)
        let expected = try engineEmbedding("What is RWKV?")
        XCTAssertLessThan(maxAbsDiff(try XCTUnwrap(floats(vectors[0])), expected), 1e-5)
        for name in ["x-compute-time", "x-queue-time", "x-inference-time", "x-total-time"] {
            XCTAssertNotNil(one.headers.first(name: name), name)
        }

        // A list, not normalised, with another head and protocol.
        let texts = ["first document", "a second, longer document about state space models"]
        let many = try await server.post("/embed", json: ["inputs": texts, "normalize": false, "task": "sts", "protocol": "paper"])
        XCTAssertEqual(many.status, .ok, many.text)
        let got = try XCTUnwrap(many.json() as? [[Any]])
        XCTAssertEqual(got.count, 2)
        for (i, text) in texts.enumerated() {
            let e = try engineEmbedding(text, task: .similarity, inputProtocol: .paper, normalize: false)
            XCTAssertLessThan(maxAbsDiff(try XCTUnwrap(floats(got[i])), e), 1e-4)
        }

        // The query instruction.
        let q = try await server.post("/embed", json: ["inputs": "rwkv", "instruction": "Find it"])
        let qv = try XCTUnwrap(floats((try q.json() as? [Any])?.first))
        XCTAssertLessThan(maxAbsDiff(qv, try engineEmbedding(Embedder.query("rwkv", instruction: "Find it"))), 1e-5)
    }

    func testOpenAIEmbeddings() async throws {
        let server = try await TestServer.start { $0.acceptTokenIDs = true }  // token ids are tested below
        defer { Task { try? await server.stop() } }
        let dims = FixtureModel.served.dimensions

        let r = try await server.post("/v1/embeddings", json: ["input": ["alpha", "beta"], "model": "tiny-bf16"])
        XCTAssertEqual(r.status, .ok, r.text)
        let obj = try XCTUnwrap(r.json() as? [String: Any])
        XCTAssertEqual(obj["object"] as? String, "list")
        XCTAssertEqual(obj["model"] as? String, "tiny-bf16")
        let data = try XCTUnwrap(obj["data"] as? [[String: Any]])
        XCTAssertEqual(data.count, 2)
        XCTAssertEqual(data[1]["index"] as? Int, 1)
        XCTAssertEqual(data[0]["object"] as? String, "embedding")
        let alpha = try XCTUnwrap(floats(data[0]["embedding"]))
        XCTAssertEqual(alpha.count, dims)
        XCTAssertLessThan(maxAbsDiff(alpha, try engineEmbedding("alpha")), 1e-5)
        let usage = try XCTUnwrap(obj["usage"] as? [String: Any])
        let expectedTokens = ["alpha", "beta"].map { FixtureModel.served.tokenizer.encode($0).count + 1 }.reduce(0, +)
        XCTAssertEqual(usage["prompt_tokens"] as? Int, expectedTokens)
        XCTAssertEqual(usage["total_tokens"] as? Int, expectedTokens)

        // base64: little-endian float32.
        let b = try await server.post("/v1/embeddings", json: ["input": "alpha", "encoding_format": "base64", "dimensions": dims])
        XCTAssertEqual(b.status, .ok, b.text)
        let b64 = try XCTUnwrap(((try b.json() as? [String: Any])?["data"] as? [[String: Any]])?.first?["embedding"] as? String)
        let bytes = try XCTUnwrap(Data(base64Encoded: b64))
        XCTAssertEqual(bytes.count, dims * 4)
        let raw = [UInt8](bytes)
        var decoded: [Float] = []
        for i in 0..<dims {
            var bits: UInt32 = 0
            for k in 0..<4 { bits |= UInt32(raw[4 * i + k]) << UInt32(8 * k) }
            decoded.append(Float(bitPattern: bits))
        }
        // (Bit-exact to the float form of the same request; `alpha` above came from a batch of two,
        // where BLAS blocking may move the last bits.)
        XCTAssertLessThan(maxAbsDiff(decoded, alpha), 1e-5)
        let single = try await server.post("/v1/embeddings", json: ["input": "alpha"])
        let singleFloats = try XCTUnwrap(floats(((try single.json() as? [String: Any])?["data"] as? [[String: Any]])?.first?["embedding"]))
        XCTAssertEqual(decoded, singleFloats)

        // Token ids (one list and a list of lists; with --accept-token-ids) give the same vector as the text.
        let ids = FixtureModel.served.tokenizer.encode("alpha")
        for input: Any in [ids, [ids, ids]] {
            let t = try await server.post("/v1/embeddings", json: ["input": input])
            XCTAssertEqual(t.status, .ok, t.text)
            let v = try XCTUnwrap(floats(((try t.json() as? [String: Any])?["data"] as? [[String: Any]])?.first?["embedding"]))
            XCTAssertLessThan(maxAbsDiff(v, alpha), 1e-6)
        }

        // Other dimensions: OpenAI-style error.
        let d = try await server.post("/v1/embeddings", json: ["input": "x", "dimensions": dims + 1])
        XCTAssertEqual(d.status, .unprocessableEntity)
        let err = try XCTUnwrap((try d.json() as? [String: Any])?["error"] as? [String: Any])
        XCTAssertEqual(err["type"] as? String, "invalid_request_error")
        XCTAssertEqual(err["param"] as? String, "dimensions")
        XCTAssertNotNil(err["message"] as? String)

        let models = try await server.get("/v1/models")
        XCTAssertEqual(models.status, .ok)
        let list = try XCTUnwrap((try models.json() as? [String: Any])?["data"] as? [[String: Any]])
        XCTAssertEqual(list.first?["id"] as? String, "tiny-bf16")
        XCTAssertEqual(list.first?["object"] as? String, "model")
    }

    func testRerankRoutes() async throws {
        let server = try await TestServer.start()
        defer { Task { try? await server.stop() } }
        let query = "what is a state space model"
        let docs = ["RWKV is an RNN with transformer-level performance.", "Bananas are yellow.", "State space models carry a state."]
        let reranker = try XCTUnwrap(FixtureModel.served.reranker)
        let expected = try reranker.rerankOnline(query: query, documents: docs)

        let r = try await server.post("/rerank", json: ["query": query, "texts": docs, "return_text": true])
        XCTAssertEqual(r.status, .ok, r.text)
        let ranks = try XCTUnwrap(r.json() as? [[String: Any]])
        XCTAssertEqual(ranks.count, 3)
        let scores = ranks.map { ($0["score"] as? NSNumber)?.floatValue ?? .nan }
        XCTAssertEqual(scores, scores.sorted(by: >))
        for rank in ranks {
            let i = try XCTUnwrap(rank["index"] as? Int)
            XCTAssertEqual((rank["score"] as? NSNumber)?.floatValue ?? 0, expected[i].score, accuracy: 1e-5)
            XCTAssertEqual(rank["text"] as? String, docs[i])
        }
        let raw = try await server.post("/rerank", json: ["query": query, "texts": docs, "raw_scores": true])
        let rawRanks = try XCTUnwrap(raw.json() as? [[String: Any]])
        for rank in rawRanks {
            let i = try XCTUnwrap(rank["index"] as? Int)
            XCTAssertEqual((rank["score"] as? NSNumber)?.floatValue ?? 0, expected[i].logit, accuracy: 1e-4)
            XCTAssertNil(rank["text"])
        }

        let j = try await server.post("/v1/rerank", json: ["query": query, "documents": [docs[0], ["text": docs[1]], docs[2]], "top_n": 2])
        XCTAssertEqual(j.status, .ok, j.text)
        let obj = try XCTUnwrap(j.json() as? [String: Any])
        let results = try XCTUnwrap(obj["results"] as? [[String: Any]])
        XCTAssertEqual(results.count, 2)
        let best = expected.enumerated().max { $0.element.score < $1.element.score }!.offset
        XCTAssertEqual(results[0]["index"] as? Int, best)
        XCTAssertEqual((results[0]["document"] as? [String: Any])?["text"] as? String, docs[best])
        XCTAssertNotNil((obj["usage"] as? [String: Any])?["total_tokens"] as? Int)
        XCTAssertEqual(obj["model"] as? String, "tiny-bf16")

        let noDocs = try await server.post("/v1/rerank", json: ["query": query, "documents": docs, "return_documents": false])
        let r2 = try XCTUnwrap((try noDocs.json() as? [String: Any])?["results"] as? [[String: Any]])
        XCTAssertEqual(r2.count, 3)
        XCTAssertNil(r2[0]["document"])
    }

    func testRerankWithoutRerankerIsAClearError() async throws {
        let server = try await TestServer.start(served: FixtureModel.embeddingOnly)
        defer { Task { try? await server.stop() } }
        let r = try await server.post("/rerank", json: ["query": "q", "texts": ["a"]])
        XCTAssertEqual(r.status.code / 100, 4, r.text)
        XCTAssertNotNil((try r.json() as? [String: Any])?["error_type"])
    }

    func testTokenizeDecodeInfoHealthMetrics() async throws {
        let server = try await TestServer.start()
        defer { Task { try? await server.stop() } }
        let tokenizer = FixtureModel.served.tokenizer

        let t = try await server.post("/tokenize", json: ["inputs": "Hello world"])
        XCTAssertEqual(t.status, .ok, t.text)
        let tokens = try XCTUnwrap((try t.json() as? [[[String: Any]]])?.first)
        let ids = tokens.compactMap { $0["id"] as? Int }
        XCTAssertEqual(ids, tokenizer.encode("Hello world", addEOS: true))
        XCTAssertEqual(tokens.last?["special"] as? Bool, true)
        XCTAssertEqual(tokens.dropLast().compactMap { $0["text"] as? String }.joined(), "Hello world")

        let d = try await server.post("/decode", json: ["ids": tokenizer.encode("Hello world")])
        XCTAssertEqual(d.status, .ok, d.text)
        XCTAssertEqual(try d.json() as? [String], ["Hello world"])
        let bad = try await server.post("/decode", json: ["ids": [70000]])
        XCTAssertEqual(bad.status, .unprocessableEntity, bad.text)

        let infoReply = try await server.get("/info")
        let info = try XCTUnwrap(try infoReply.json() as? [String: Any])
        XCTAssertEqual(info["model_id"] as? String, "tiny-bf16")
        XCTAssertEqual(info["model_dtype"] as? String, "float32")
        XCTAssertEqual(info["max_input_length"] as? Int, 8192)
        XCTAssertNotNil(info["max_batch_tokens"] as? Int)
        XCTAssertNotNil(info["max_client_batch_size"] as? Int)
        XCTAssertEqual(info["version"] as? String, ServerVersion.string)

        let health = try await server.get("/health")
        XCTAssertEqual(health.status, .ok)

        _ = try await server.post("/embed", json: ["inputs": "count me"])
        let metrics = try await server.get("/metrics")
        XCTAssertEqual(metrics.status, .ok)
        for name in ["te_request_count", "te_queue_size", "te_batch_next_size", "te_request_tokenization_duration",
                     "te_request_queue_duration", "te_request_inference_duration", "te_request_tokens"] {
            XCTAssertTrue(metrics.text.contains(name), name)
        }
        XCTAssertEqual(metricValue(metrics.text, #"te_request_success{method="single"}"#), 1)
    }
}
