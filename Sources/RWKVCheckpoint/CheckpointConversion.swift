import Foundation

/// `.pth` (or safetensors) -> safetensors, keeping every tensor's name, shape and, unless asked
/// to cast, its dtype and exact bytes. `reranker_layer_idx` moves to `__metadata__`.
public enum CheckpointConversion {
    public struct Summary: Sendable {
        public var format: CheckpointFormat
        public var tensorCount: Int
        public var dtypes: [String]
        public var notes: [String]
    }

    /// - Parameter dtype: nil keeps each tensor's dtype; otherwise floating tensors are cast (round to nearest even).
    @discardableResult
    public static func convert(_ input: URL, to output: URL, dtype: TensorDType? = nil) throws -> Summary {
        let contents = try CheckpointContents.open(input)
        if dtype == .int64 { throw CheckpointError.unsupportedDType(tensor: "(all)", dtype: "int64") }
        var metadata = contents.metadata.filter { $0.key != "reranker_layer_idx" }
        if let indices = contents.rerankerLayerIndices {
            metadata["reranker_layer_idx"] = "[" + indices.map(String.init).joined(separator: ", ") + "]"
        }
        var writer = SafetensorsWriter(metadata: metadata)
        let source = contents.source
        var written = Set<String>()
        for view in contents.tensors {
            let target = view.dtype.isFloatingPoint ? (dtype ?? view.dtype) : view.dtype
            written.insert(target.rawValue)
            if target == view.dtype {
                try writer.add(view.name, dtype: target, shape: view.shape) { view.contiguousBytes(from: source) }
            } else {
                try writer.add(view.name, dtype: target, shape: view.shape) {
                    FloatConversion.encode(try view.floats(from: source), as: target)
                }
            }
        }
        try writer.write(to: output)
        return Summary(format: contents.format, tensorCount: contents.tensors.count, dtypes: written.sorted(), notes: contents.notes)
    }
}
