import Foundation

/// What a checkpoint holds, without converting it: the tensors' names, dtypes and shapes and
/// their raw bytes. For `rwkv-emb inspect` and for tests that compare files byte for byte.
public struct CheckpointFile: @unchecked Sendable {
    public struct TensorInfo: Sendable, Equatable {
        public var name: String
        public var dtype: TensorDType
        public var shape: [Int]
        public var elementCount: Int
    }

    public enum Kind: String, Sendable {
        case embedding, reranker, unknown
    }

    private let contents: CheckpointContents

    /// Opens (memory-maps) `url`; the format is recognised by content.
    public init(contentsOf url: URL) throws { contents = try CheckpointContents.open(url) }
    public init(data: Data) throws { contents = try CheckpointContents.parse(data) }

    public var format: CheckpointFormat { contents.format }
    /// In file order (`reranker_layer_idx` is not listed: see `rerankerLayerIndices`).
    public var tensors: [TensorInfo] {
        contents.tensors.map { TensorInfo(name: $0.name, dtype: $0.dtype, shape: $0.shape, elementCount: $0.elementCount) }
    }
    public var rerankerLayerIndices: [Int]? { contents.rerankerLayerIndices }
    public var metadata: [String: String] { contents.metadata }
    public var notes: [String] { contents.notes }

    public var kind: Kind {
        let names = Set(contents.tensors.map(\.name))
        if names.contains("rwkv.emb.weight") { return .embedding }
        if names.contains("reranker.blocks.0.att.r_k") { return .reranker }
        return .unknown
    }

    /// The tensor's bytes in row-major order (strides applied), in its stored dtype, little-endian.
    public func rawBytes(of name: String) throws -> [UInt8] {
        guard let view = contents.tensors.first(where: { $0.name == name }) else {
            throw CheckpointError.missingTensor(key: name, hint: "")
        }
        return view.contiguousBytes(from: contents.source)
    }

    /// Builds the typed weights from this file.
    public func embeddingWeights() throws -> LoadedCheckpoint<EmbeddingModelWeights> {
        try EmbeddingModelWeights.build(from: contents)
    }

    public func rerankerWeights(pairedWith embedding: ModelArchitecture? = nil) throws -> LoadedCheckpoint<RerankerWeights> {
        try RerankerWeights.build(from: contents, pairedWith: embedding)
    }
}
