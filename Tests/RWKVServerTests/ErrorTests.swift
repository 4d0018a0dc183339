import Foundation
import RWKVServer
import Testing

/// Bad input gets a clear 4xx with the family's error body — never a 500 or a crash.
extension SerialServerSuites {
@Suite(.serialized) struct ErrorTests {
    @Test func teiValidationErrors() async throws {
        let server = try await TestServer.start { config in
            config.maxInputLength = 16
            config.maxClientBatchSize = 4
            config.payloadLimit = 4096
        }
        defer { Task { try? await server.stop() } }

        func expect(_ body: Data, _ status: Int, type: String? = nil, path: String = "/embed",
                    sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let r = try await server.post(path, body: body)
            #expect(Int(r.status.code) == status, "\(r.text)", sourceLocation: sourceLocation)
            let obj = try #require(r.json() as? [String: Any], "\(r.text)", sourceLocation: sourceLocation)
            #expect((obj["error"] as? String) != nil, sourceLocation: sourceLocation)
            if let type { #expect((obj["error_type"] as? String) == type, sourceLocation: sourceLocation) }
        }
        func json(_ v: Any) throws -> Data { try JSONSerialization.data(withJSONObject: v) }

        try await expect(Data("{not json".utf8), 400)
        try await expect(Data([0x7B, 0x22, 0x69, 0x6E, 0x70, 0x75, 0x74, 0x73, 0x22, 0x3A, 0x22, 0xFF, 0xFE, 0x22, 0x7D]), 400)  // {"inputs":"\xff\xfe"}
        try await expect(Data(), 400)
        try await expect(try json(["inputs": [String]()]), 400, type: "Empty")
        try await expect(try json(["inputs": ""]), 422, type: "Validation")
        try await expect(try json(["wrong": "x"]), 422)
        try await expect(try json(["inputs": 42]), 422)
        // Too many inputs or tokens: 422 with error_type Validation, as TEI >= 1.9 answers.
        try await expect(try json(["inputs": ["a", "b", "c", "d", "e"]]), 422, type: "Validation")
        let long = String(repeating: "word ", count: 100)
        try await expect(try json(["inputs": long]), 422, type: "Validation")
        try await expect(try json(["inputs": "x", "task": "nope"]), 422, type: "Validation")
        try await expect(try json(["inputs": "x", "protocol": "nope"]), 422, type: "Validation")
        try await expect(try json(["inputs": "x", "truncation_direction": "up"]), 422, type: "Validation")
        try await expect(try json(["inputs": [[1, 2, 70000]]]), 422, type: "Tokenizer")
        try await expect(try json(["inputs": String(repeating: "x", count: 5000)]), 413)
        try await expect(try json(["query": "", "texts": ["a"]]), 422, path: "/rerank")
        try await expect(try json(["query": "q", "texts": [String]()]), 400, path: "/rerank")

        // Truncation when asked, on both ends.
        for direction in ["Right", "Left"] {
            let r = try await server.post("/embed", json: ["inputs": long, "truncate": true, "truncation_direction": direction])
            #expect(r.status == .ok, "\(r.text)")
        }
        let tokens = FixtureModel.served.tokenizer.encode(long)
        let right = try await server.post("/embed", json: ["inputs": long, "truncate": true])
        let viaIDs = try await server.post("/embed", json: ["inputs": Array(tokens.prefix(16))])
        #expect((try right.json() as? [[Double]]) == (try viaIDs.json() as? [[Double]]))

        // Unknown route and wrong method.
        let missing = try await server.get("/nope")
        #expect(missing.status == .notFound)
        let wrongMethod = try await server.get("/embed")
        #expect(wrongMethod.status.code / 100 == 4)

        // The server is still healthy.
        let health = try await server.get("/health")
        #expect(health.status == .ok)
        let metrics = try await server.get("/metrics")
        #expect((metricValue(metrics.text, #"te_request_failure{err="validation"}"#)) != nil)
    }

    @Test func openAIErrorBodies() async throws {
        let server = try await TestServer.start { $0.maxInputLength = 8 }
        defer { Task { try? await server.stop() } }
        for (body, status) in [(Data("[".utf8), 400), (try JSONSerialization.data(withJSONObject: ["input": []]), 400),
                               (try JSONSerialization.data(withJSONObject: ["input": "x", "encoding_format": "hex"]), 422),
                               (try JSONSerialization.data(withJSONObject: ["input": String(repeating: "long ", count: 50)]), 422)] {
            let r = try await server.post("/v1/embeddings", body: body)
            #expect(Int(r.status.code) == status, "\(r.text)")
            let err = try #require((try r.json() as? [String: Any])?["error"] as? [String: Any], "\(r.text)")
            #expect((err["message"] as? String) != nil)
            #expect((err["type"] as? String) == "invalid_request_error")
            #expect(err.keys.contains("param"))
            #expect(err.keys.contains("code"))
        }
        let rr = try await server.post("/v1/rerank", json: ["query": "q", "documents": ["a"], "top_n": 0])
        #expect(rr.status == .unprocessableEntity)
        #expect(((try rr.json() as? [String: Any])?["error"] as? [String: Any]) != nil)
    }

    @Test func apiKey() async throws {
        let server = try await TestServer.start { $0.apiKey = "s3cret" }
        defer { Task { try? await server.stop() } }
        let health = try await server.get("/health")
        #expect(health.status == .ok)
        let none = try await server.post("/embed", json: ["inputs": "x"])
        #expect(none.status == .unauthorized)
        #expect(((try none.json() as? [String: Any])?["error"] as? String) != nil)
        let wrong = try await server.post("/v1/embeddings", json: ["input": "x"], headers: [("authorization", "Bearer nope")])
        #expect(wrong.status == .unauthorized)
        #expect(((try wrong.json() as? [String: Any])?["error"] as? [String: Any]) != nil)
        let info = try await server.get("/info")
        #expect(info.status == .unauthorized)
        let metrics = try await server.get("/metrics")   // public, as in TEI
        #expect(metrics.status == .ok)
        let ok = try await server.post("/embed", json: ["inputs": "x"], headers: [("authorization", "Bearer s3cret")])
        #expect(ok.status == .ok, "\(ok.text)")
    }
}
}
