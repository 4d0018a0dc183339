import Foundation

/// The container format of a checkpoint file, recognised by its first bytes (not its extension).
public enum CheckpointFormat: String, Sendable, Codable {
    /// `torch.save` output: a zip of `data.pkl` and raw storages.
    case pytorch
    case safetensors
}

/// All tensors of a checkpoint, located in its bytes (mapped or in memory) but not yet converted.
struct CheckpointContents {
    var format: CheckpointFormat
    var source: ByteSource
    /// In file order.
    var tensors: [TensorView]
    /// `reranker_layer_idx` when the file has it (a list, an int64 tensor, or safetensors metadata).
    var rerankerLayerIndices: [Int]?
    /// Things the user should know that do not stop the load (non-tensor entries skipped, ...).
    var notes: [String]
    /// safetensors `__metadata__` (empty for .pth).
    var metadata: [String: String]

    static func open(_ url: URL) throws -> CheckpointContents {
        try parse(ByteSource(mapping: url))
    }

    static func parse(_ data: Data) throws -> CheckpointContents {
        try parse(ByteSource(copying: data))
    }

    static func parse(_ source: ByteSource) throws -> CheckpointContents {
        if ZipArchive.hasZipMagic(source.bytes) { return try TorchCheckpoint.read(source) }
        if SafetensorsReader.hasSafetensorsShape(source.bytes) { return try SafetensorsReader.read(source) }
        if source.count < 9 { throw CheckpointError.truncated(what: "the first bytes (\(source.count) bytes in all)") }
        throw CheckpointError.unknownFormat(firstBytes: source.prefixDescription())
    }
}

/// Parses the text form "[1, 3]" of `reranker_layer_idx` (safetensors metadata).
func parseLayerIndexList(_ text: String) throws -> [Int] {
    guard let data = text.data(using: .utf8),
          let array = try? JSONSerialization.jsonObject(with: data) as? [Any], array.count <= 4096 else {
        throw CheckpointError.invalidLayerIndices("metadata value '\(text.prefix(80))' is not a list of integers")
    }
    return try array.map { element in
        guard let number = element as? NSNumber, let value = Int(exactly: number.doubleValue), Double(value) == number.doubleValue else {
            throw CheckpointError.invalidLayerIndices("metadata value '\(text.prefix(80))' is not a list of integers")
        }
        return value
    }
}
