import Foundation
import Testing
import RWKVCheckpoint
import RWKVTestSupport

/// Key-name variants real checkpoints have: extra unused tensors, the reranker token's older
/// name, and `reranker_layer_idx` as an int64 tensor.
@Suite struct KeyVariantsTests {
    let architecture = ModelArchitecture.standard(layerCount: 2, embeddingSize: 64, vocabularySize: 50)

    func write(_ tensors: [NamedTensor], extra: (inout SafetensorsWriter) throws -> Void = { _ in }, metadata: [String: String] = [:]) throws -> Data {
        var writer = SafetensorsWriter(metadata: metadata)
        for tensor in tensors { try writer.add(tensor.name, shape: tensor.shape, values: tensor.values, as: .bfloat16) }
        try extra(&writer)
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        try writer.write(to: directory.path("x.safetensors"))
        return try Data(contentsOf: directory.path("x.safetensors"))
    }

    @Test func languageModelHeadAndImageTowerAreReportedAndIgnored() throws {
        let weights = EmbeddingModelWeights.random(architecture: architecture, seed: 5)
        let data = try write(weights.namedTensors) { writer in
            try writer.add("rwkv.head.weight", shape: [50, 64], values: [Float](repeating: 0.5, count: 3200), as: .bfloat16)
            try writer.add("vit.encoder.layer.0.weight", shape: [4, 4], values: [Float](repeating: 1, count: 16), as: .float32)
            try writer.add("proj.gate.weight", shape: [2, 2], values: [1, 2, 3, 4], as: .float32)
            try writer.add("vit.empty", shape: [0], values: [], as: .float32)
        }
        let loaded = try EmbeddingModelWeights.load(from: data)
        #expect(loaded.weights.architecture == architecture)
        #expect(Set(loaded.report.unusedKeys) == ["rwkv.head.weight", "vit.encoder.layer.0.weight", "proj.gate.weight", "vit.empty"])
        #expect(loaded.report.notes.contains { $0.contains("image tower (3 vit.*/proj.* tensors)") })
        #expect(loaded.report.notes.contains { $0.contains("rwkv.head.weight") })
        #expect(loaded.report.dtypes == ["bfloat16"])
    }

    @Test func olderTokenNameAndLayerIndicesAsAnInt64Tensor() throws {
        let reranker = RerankerWeights.random(architecture: architecture, seed: 9)
        let renamed = reranker.namedTensors.map { tensor -> NamedTensor in
            var tensor = tensor
            if tensor.name == "reranker.emb.weight" { tensor.name = "reranker.token.weight" }
            return tensor
        }
        let data = try write(renamed) { writer in
            var bytes: [UInt8] = []
            for index in [Int64(4), 7] { withUnsafeBytes(of: index.littleEndian) { bytes += $0 } }
            try writer.add("reranker_layer_idx", dtype: .int64, shape: [2]) { bytes }
        }
        let loaded = try RerankerWeights.load(from: data)
        #expect(loaded.weights.layerIndices == [4, 7])
        #expect(loaded.weights.token.count == 64)
        #expect(loaded.report.unusedKeys.isEmpty)
        #expect(throws: CheckpointError.self) { try RerankerWeights.load(from: data, pairedWith: architecture) }  // 2 layers: 4 is out of range
    }

    @Test func blockZeroValueResidualIsIgnoredAndMissingBlocksAreNamed() throws {
        let weights = EmbeddingModelWeights.random(architecture: architecture, seed: 2)
        let withBlockZeroResidual = try write(weights.namedTensors) { writer in
            try writer.add("rwkv.blocks.0.att.v0", shape: [1, 1, 64], values: [Float](repeating: 1, count: 64), as: .float32)
        }
        let loaded = try EmbeddingModelWeights.load(from: withBlockZeroResidual)
        #expect(loaded.weights.blocks[0].timeMix.v0 == nil && loaded.report.unusedKeys == ["rwkv.blocks.0.att.v0"])
        // A stray block 3 makes a 4-layer model whose block 2 is missing.
        let gap = try write(weights.namedTensors) { writer in
            try writer.add("rwkv.blocks.3.ln1.weight", shape: [64], values: [Float](repeating: 1, count: 64), as: .float32)
        }
        #expect(throws: CheckpointError.missingTensor(key: "rwkv.blocks.2.ln1.weight", hint: "")) { try EmbeddingModelWeights.load(from: gap) }
    }
}
