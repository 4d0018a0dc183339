import EmbeddingRWKV
import Foundation
import RWKVCheckpoint
import RWKVServer
import RWKVTestSupport
import XCTest

/// `/info` reports the weight precision the engine computes in as `model_dtype`.
final class PrecisionInfoTests: XCTestCase {
    func testInfoReportsTheModelPrecision() async throws {
        let weights = try EmbeddingModelWeights.load(contentsOf: Fixtures.embeddingCheckpoint("tiny-bf16"))
        let served = ServedModel(model: RWKVModel(weights, precision: .bf16), checkpointDTypes: ["bfloat16"])
        let server = try await TestServer.start(served: served)
        let reply = try await server.get("/info")
        let info = try XCTUnwrap(try reply.json() as? [String: Any])
        try await server.stop()
        XCTAssertEqual(info["model_dtype"] as? String, "bfloat16")
    }
}
