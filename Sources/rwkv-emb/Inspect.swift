import ArgumentParser
import Foundation
import RWKVCheckpoint

/// `rwkv-emb inspect FILE`: what a checkpoint holds, after loading and validating it.
struct Inspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a checkpoint: format, dtypes, kind, architecture, parameters, reranker layers, unused keys.")

    @Argument(help: "A .pth or .safetensors checkpoint.")
    var file: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    struct Description: Encodable {
        var file: String
        var format: String
        var kind: String
        var dtypes: [String]
        var tensorCount: Int
        var fileParameterCount: Int
        var modelParameterCount: Int?
        /// Content fingerprint of the fp32 weights (the same for a .pth and its conversion).
        var fingerprint: String?
        var architecture: Architecture?
        var rerankerLayers: [Int]?
        var unusedKeys: [String]
        var notes: [String]
    }

    struct Architecture: Encodable {
        var layers, width, heads, headSize, vocabulary, decayRank, inContextRateRank, valueResidualRank, gateRank, feedForward: Int
        init(_ a: ModelArchitecture) {
            layers = a.layerCount; width = a.embeddingSize; heads = a.headCount; headSize = a.headSize; vocabulary = a.vocabularySize
            decayRank = a.decayRank; inContextRateRank = a.inContextRateRank; valueResidualRank = a.valueResidualRank
            gateRank = a.gateRank; feedForward = a.feedForwardSize
        }
    }

    func run() async throws {
        let checkpoint = try CheckpointFile(contentsOf: URL(fileURLWithPath: file))
        let tensors = checkpoint.tensors
        var description = Description(
            file: file, format: checkpoint.format.rawValue, kind: checkpoint.kind.rawValue,
            dtypes: Array(Set(tensors.map(\.dtype.rawValue))).sorted(), tensorCount: tensors.count,
            fileParameterCount: tensors.reduce(0) { $0 + $1.elementCount },
            rerankerLayers: checkpoint.rerankerLayerIndices, unusedKeys: [], notes: checkpoint.notes)
        var architecture: ModelArchitecture?
        switch checkpoint.kind {
        case .embedding:
            let loaded = try checkpoint.embeddingWeights()
            architecture = loaded.weights.architecture
            description.fingerprint = loaded.weights.fingerprint()
            description.modelParameterCount = loaded.report.parameterCount
            description.unusedKeys = loaded.report.unusedKeys
            description.notes = loaded.report.notes
        case .reranker:
            let loaded = try checkpoint.rerankerWeights()
            architecture = loaded.weights.architecture
            description.rerankerLayers = loaded.weights.layerIndices
            description.fingerprint = loaded.weights.fingerprint()
            description.modelParameterCount = loaded.report.parameterCount
            description.unusedKeys = loaded.report.unusedKeys
            description.notes = loaded.report.notes
        case .unknown:
            description.notes.append("neither an embedding model (rwkv.emb.weight) nor a reranker (reranker.blocks.*)")
        }
        description.architecture = architecture.map(Architecture.init)

        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(description), as: UTF8.self))
            return
        }
        print("file:         \(file)")
        print("format:       \(description.format)")
        print("kind:         \(description.kind)")
        print("dtypes:       \(description.dtypes.joined(separator: ", "))")
        print("tensors:      \(description.tensorCount) (\(formatCount(description.fileParameterCount)) values in the file)")
        if let architecture { print("architecture: \(architecture)") }
        if let count = description.modelParameterCount {
            print("parameters:   \(formatCount(count)) used (\(formatBytes(count * 4)) as fp32)")
        }
        if let fingerprint = description.fingerprint { print("fingerprint:  \(fingerprint)") }
        if let layers = description.rerankerLayers {
            print("reranker reads embedding layers: \(layers)" + (checkpoint.rerankerLayerIndices == nil ? " (no reranker_layer_idx: all)" : ""))
        }
        if !description.unusedKeys.isEmpty {
            print("unused keys:  \(description.unusedKeys.count): \(description.unusedKeys.prefix(10).joined(separator: ", "))\(description.unusedKeys.count > 10 ? ", ..." : "")")
        }
        for note in description.notes { print("note: \(note)") }
    }
}

func formatCount(_ count: Int) -> String {
    count >= 1_000_000 ? String(format: "%.2f M", Double(count) / 1e6) : "\(count)"
}

func formatBytes(_ bytes: Int) -> String {
    String(format: "%.1f MiB", Double(bytes) / 1_048_576)
}
