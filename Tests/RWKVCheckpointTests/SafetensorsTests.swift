import Foundation
import Testing
import RWKVCheckpoint
import RWKVTestSupport

@Suite struct SafetensorsTests {
    /// .pth -> safetensors keeps every tensor's name, dtype, shape and bytes, and the loaded weights are identical.
    @Test(arguments: Fixtures.modelNames)
    func fixturesRoundTripBitExactly(model: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        for (input, isEmbedding) in [(Fixtures.rerankerCheckpoint(model), false), (Fixtures.embeddingCheckpoint(model), true)] {
            let output = directory.path(isEmbedding ? "embedding.safetensors" : "reranker.safetensors")
            try CheckpointConversion.convert(input, to: output)
            let original = try CheckpointFile(contentsOf: input)
            let converted = try CheckpointFile(contentsOf: output)
            #expect(original.format == .pytorch && converted.format == .safetensors)
            #expect(original.tensors == converted.tensors)
            #expect(original.rerankerLayerIndices == converted.rerankerLayerIndices)
            for tensor in original.tensors {
                #expect(try original.rawBytes(of: tensor.name) == converted.rawBytes(of: tensor.name), "\(tensor.name)")
            }
            if isEmbedding {
                let a = try original.embeddingWeights(), b = try converted.embeddingWeights()
                #expect(a.weights.architecture == b.weights.architecture)
                #expect(sameTensors(a.weights.namedTensors, b.weights.namedTensors))
                #expect(b.report.format == .safetensors && a.report.dtypes == b.report.dtypes)
            } else {
                let a = try original.rerankerWeights(), b = try converted.rerankerWeights()
                #expect(a.weights.architecture == b.weights.architecture && a.weights.layerIndices == b.weights.layerIndices)
                #expect(a.weights.fingerprint() == b.weights.fingerprint() && a.weights.fingerprint().count == 32)
                #expect(sameTensors(a.weights.namedTensors, b.weights.namedTensors))
            }
        }
    }

    @Test func castingToFloat32IsExactAndToBFloat16Rounds() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let input = Fixtures.rerankerCheckpoint("tiny-bf16")
        let original = try RerankerWeights.load(contentsOf: input)
        let f32 = directory.path("f32.safetensors")
        let summary = try CheckpointConversion.convert(input, to: f32, dtype: .float32)
        #expect(summary.dtypes == ["float32"])
        #expect(sameTensors(try RerankerWeights.load(contentsOf: f32).namedTensors, original.namedTensors))
        // f32 -> bf16 returns the original bf16 values exactly.
        let bf16 = directory.path("bf16.safetensors")
        try CheckpointConversion.convert(f32, to: bf16, dtype: .bfloat16)
        #expect(sameTensors(try RerankerWeights.load(contentsOf: bf16).namedTensors, original.namedTensors))
        #expect(try CheckpointFile(contentsOf: bf16).rawBytes(of: "reranker.head.0.weight") == CheckpointFile(contentsOf: input).rawBytes(of: "reranker.head.0.weight"))
        let f16 = directory.path("f16.safetensors")
        try CheckpointConversion.convert(input, to: f16, dtype: .float16)
        let halfWeights = try RerankerWeights.load(contentsOf: f16)
        for (a, b) in zip(halfWeights.hiddenWeight.values, original.hiddenWeight.values) { #expect(abs(a - b) <= abs(b) * 1e-3 + 1e-7) }
    }

    @Test func randomWeightsRoundTripThroughTheWriter() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let architecture = ModelArchitecture.standard(layerCount: 2, embeddingSize: 128, vocabularySize: 300)
        let embedding = EmbeddingModelWeights.random(architecture: architecture, seed: 7)
        let file = directory.path("random.safetensors")
        try CheckpointWriter.write(embedding, to: file)
        let loaded = try EmbeddingModelWeights.load(contentsOf: file)
        #expect(loaded.architecture == architecture)
        #expect(sameTensors(loaded.namedTensors, embedding.namedTensors))
        #expect(loaded.fingerprint() == embedding.fingerprint())
        #expect(EmbeddingModelWeights.random(architecture: architecture, seed: 8).fingerprint() != embedding.fingerprint())

        let reranker = RerankerWeights.random(architecture: ModelArchitecture.standard(layerCount: 2, embeddingSize: 128), layerIndices: [0, 1], seed: 3)
        let rerankerFile = directory.path("reranker.safetensors")
        try CheckpointWriter.write(reranker, to: rerankerFile, dtype: .bfloat16)
        let loadedReranker = try RerankerWeights.load(contentsOf: rerankerFile, pairedWith: architecture)
        #expect(loadedReranker.layerIndices == [0, 1])
        #expect(try CheckpointFile(contentsOf: rerankerFile).metadata["reranker_layer_idx"] == "[0, 1]")
        for (a, b) in zip(loadedReranker.hiddenWeight.values, reranker.hiddenWeight.values) { #expect(abs(a - b) <= abs(b) / 128) }
    }

    @Test func releasedTinyShapeHasTheReferenceRanks() {
        let tiny = ModelArchitecture.tiny
        #expect(tiny.decayRank == 64 && tiny.inContextRateRank == 64 && tiny.valueResidualRank == 32 && tiny.gateRank == 128)
        #expect(tiny.headCount == 12 && tiny.feedForwardSize == 3072)
        #expect(ModelArchitecture.base.gateRank == 128)
    }
}
