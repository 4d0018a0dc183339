import EmbeddingRWKV
import Foundation
import RWKVCheckpoint
import RWKVServer
import RWKVTestSupport
import Testing

/// `/info` reports the weight precision the engine computes in as `model_dtype`.
extension SerialServerSuites {
@Suite(.serialized) struct PrecisionInfoTests {
    @Test func infoReportsTheModelPrecision() async throws {
        let weights = try EmbeddingModelWeights.load(contentsOf: Fixtures.embeddingCheckpoint("tiny-bf16"))
        let served = ServedModel(model: RWKVModel(weights, precision: .bf16), checkpointDTypes: ["bfloat16"])
        let server = try await TestServer.start(served: served)
        let reply = try await server.get("/info")
        let info = try #require(try reply.json() as? [String: Any])
        try await server.stop()
        #expect((info["model_dtype"] as? String) == "bfloat16")
    }
}
}
