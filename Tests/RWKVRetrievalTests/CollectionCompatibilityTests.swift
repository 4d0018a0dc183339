import Foundation
import Testing
import EmbeddingRWKV
import RWKVRetrieval
import RWKVTestSupport

/// What a collection records about how it was computed, and what opening it differently does.
@Suite struct CollectionCompatibilityTests {
    static func models(_ precision: WeightPrecision) throws -> RetrievalModels {
        try RetrievalModels.load(embedding: Fixtures.embeddingCheckpoint("tiny-bf16"), reranker: Fixtures.rerankerCheckpoint("tiny-bf16"),
                                 precision: precision)
    }

    /// The manifest records the weight precision; other precisions may add and search (within the bounds)
    /// and are reported through `weightPrecisionMismatch`.
    @Test func weightPrecisionIsRecordedAndAMismatchReported() throws {
        let dir = try TemporaryDirectory()
        let fp32 = try Models.tiny
        let c = try DocumentCollection.create(at: dir.path("c"), models: fp32)
        try c.add(sampleDocuments(4))
        #expect(c.manifest.weightPrecision == .fp32 && c.weightPrecisionMismatch == nil)
        #expect(try DocumentCollection.readManifest(at: dir.path("c")).weightPrecision == .fp32)
        let bf16 = try Self.models(.bf16)
        #expect(bf16.model.precision == .bf16)
        let other = try DocumentCollection.open(at: dir.path("c"), models: bf16, writable: false)
        #expect(other.weightPrecisionMismatch == WeightPrecisionMismatch(collection: .fp32, given: .bf16))
        #expect("\(other.weightPrecisionMismatch!)".contains("computed with fp32 weights, these models compute in bf16"))
        #expect(try other.search("capital of France", options: .init(topK: 2, candidates: 4)).hits.count == 2)
        #expect(try DocumentCollection.open(at: dir.path("c"), models: nil).weightPrecisionMismatch == nil, "no models: nothing to compare")
    }

    /// `openOrCreate` with a configuration that differs from the existing collection's is refused, naming
    /// the difference; the same configuration or none opens it.
    @Test func openOrCreateRefusesAnotherConfiguration() throws {
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        let url = dir.path("c")
        let made = CollectionConfiguration(statePrecision: .int8, passages: .init(maxTokens: 128, overlapTokens: 16))
        _ = try DocumentCollection.openOrCreate(at: url, models: models, configuration: made)
        #expect(try DocumentCollection.openOrCreate(at: url, models: models, configuration: made).manifest.statePrecision == .int8)
        #expect(try DocumentCollection.openOrCreate(at: url, models: models).manifest.passageTokens == 128)
        let cases: [(CollectionConfiguration, String)] = [
            (.init(statePrecision: .fp16, passages: made.passages), "stores int8 states, not fp16"),
            (.init(statePrecision: .int8, inputProtocol: .paper, passages: made.passages), "single input protocol, not paper"),
            (.init(statePrecision: .int8), "passages of 128 tokens (overlap 16), not passages of 512 tokens (overlap 64)"),
            (.init(statePrecision: .int8, passages: .init(split: false)), "not one passage per document"),
        ]
        for (configuration, expected) in cases {
            do {
                _ = try DocumentCollection.openOrCreate(at: url, models: models, configuration: configuration)
                Issue.record("\(expected): opened")
            } catch let RetrievalError.configurationMismatch(message) {
                #expect(message.contains(expected) && message.contains(url.path), "\(message)")
            }
        }
        // Checkpoint paths are hints, not configuration.
        var moved = made
        moved.embeddingCheckpoint = "/elsewhere/model.pth"
        #expect(throws: Never.self) { try DocumentCollection.openOrCreate(at: url, models: models, configuration: moved) }
    }

    /// The CLI says so on standard error when the weight precision differs.
    @Test func commandLineNotesAPrecisionMismatch() async throws {
        let dir = try TemporaryDirectory()
        let col = dir.path("col").path
        let model = Fixtures.embeddingCheckpoint("tiny-bf16").path, reranker = Fixtures.rerankerCheckpoint("tiny-bf16").path
        var r = try await runCLI(["index", "--collection", col, "--model", model, "--reranker", reranker, "--weight-precision", "fp32", "-"], stdin: "first")
        #expect(r.status == 0 && !r.stderr.contains("note: the collection"), "\(r.stderr)")
        r = try await runCLI(["index", "--collection", col, "--weight-precision", "bf16", "-"], stdin: "second")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("note: the collection's embeddings and states were computed with fp32 weights")
                && r.stderr.contains("--weight-precision fp32"), "\(r.stderr)")
        r = try await runCLI(["search", "--collection", col, "--weight-precision", "bf16", "second"])
        #expect(r.status == 0 && r.stderr.contains("computed with fp32 weights"), "\(r.stderr)")
    }
}
