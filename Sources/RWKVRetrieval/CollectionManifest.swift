import Foundation
import EmbeddingRWKV

/// `collection.json`: what a collection is (written once, atomically, when it is created; its presence
/// marks a complete collection directory).
public struct CollectionManifest: Codable, Sendable, Equatable {
    public static let formatName = "rwkv-emb-collection"
    public static let currentVersion = 1

    public var format: String
    public var version: Int
    public var created: String
    /// The weights the collection was built with.
    public var model: ModelFingerprint
    /// Where the checkpoints were when the collection was created (hints for the CLI; the fingerprint decides).
    public var embeddingCheckpoint: String?
    public var rerankerCheckpoint: String?
    /// Embedding input protocol (`single` or `paper`), also applied to queries.
    public var inputProtocol: String
    /// Embedding dimension (C); rows of `embeddings.f32` are L2-normalised [RETR] embeddings.
    public var dimension: Int
    /// Embedding-model layers a stored state holds (0..<stateLayers).
    public var stateLayers: Int
    public var statePrecision: StatePrecision
    /// Token-shift precision ("fp32" with fp32 states, "fp16" otherwise).
    public var shiftPrecision: String
    /// The document-state template, with `{text}` for the document.
    public var stateTemplate: String
    /// The query instruction (`Instruct: {task}\nQuery: {query}` for query embeddings).
    public var queryInstruction: String

    public var protocolValue: InputProtocol { InputProtocol(rawValue: inputProtocol) ?? .single }
}

/// What a new collection is created with.
public struct CollectionConfiguration: Sendable {
    public var statePrecision: StatePrecision
    public var inputProtocol: InputProtocol
    public var embeddingCheckpoint: String?
    public var rerankerCheckpoint: String?

    public init(statePrecision: StatePrecision = .fp16, inputProtocol: InputProtocol = .single,
                embeddingCheckpoint: String? = nil, rerankerCheckpoint: String? = nil) {
        self.statePrecision = statePrecision
        self.inputProtocol = inputProtocol
        self.embeddingCheckpoint = embeddingCheckpoint
        self.rerankerCheckpoint = rerankerCheckpoint
    }
}
