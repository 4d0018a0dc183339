/// The released EmbeddingRWKV checkpoints, by the short names a user types.
///
/// Each name pairs an embedding model with the state-based reranker trained for it; both live in
/// the Hugging Face repository `howard-hou/EmbeddingRWKV`.
public struct KnownModel: Sendable, Equatable {
    /// The short name (`tiny`, `base`, `large`).
    public let name: String
    /// A one-line description for `rwkv-emb models`.
    public let summary: String
    public let repo: String
    public let revision: String
    public let embeddingFile: String
    public let rerankerFile: String

    public var embedding: HubFile { HubFile(repo: repo, path: embeddingFile, revision: revision) }
    public var reranker: HubFile { HubFile(repo: repo, path: rerankerFile, revision: revision) }

    public func file(for role: CheckpointRole) -> HubFile {
        role == .embedding ? embedding : reranker
    }
}

public enum KnownModels {
    /// The Hub repository of the released checkpoints.
    public static let repository = "howard-hou/EmbeddingRWKV"

    /// The model used when none is named.
    public static let defaultName = "tiny"

    public static let all: [KnownModel] = [
        KnownModel(name: "tiny", summary: "Tiny: 0.1B embedding model (12 layers x 768) + 0.1B reranker",
                   repo: repository, revision: "main",
                   embeddingFile: "rwkv0b1-emb-curriculum.pth", rerankerFile: "rwkv0b1-reranker.pth"),
        KnownModel(name: "base", summary: "Base: 0.4B embedding model (24 layers x 1024) + 0.3B reranker",
                   repo: repository, revision: "main",
                   embeddingFile: "rwkv0b4-emb-curriculum.pth", rerankerFile: "rwkv0b3-reranker.pth"),
        KnownModel(name: "large", summary: "Large: 1.4B embedding model (24 layers x 2048) + 1.3B reranker",
                   repo: repository, revision: "main",
                   embeddingFile: "rwkv1b4-emb-curriculum.pth", rerankerFile: "rwkv1b3-reranker.pth"),
    ]

    public static var names: [String] { all.map(\.name) }

    /// The known model of a short name (case-insensitive).
    public static func named(_ name: String) -> KnownModel? {
        let lowered = name.lowercased()
        return all.first { $0.name == lowered }
    }

    /// The known model whose embedding or reranker file has this file name.
    public static func owning(fileName: String) -> KnownModel? {
        all.first { $0.embeddingFile == fileName || $0.rerankerFile == fileName }
    }

    /// The reranker file name released with an embedding file name (nil if not a released file).
    public static func pairedRerankerFile(forEmbeddingFile fileName: String) -> String? {
        all.first { $0.embeddingFile == fileName }?.rerankerFile
    }
}
