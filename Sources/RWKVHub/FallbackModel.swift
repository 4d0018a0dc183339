import Foundation

/// The small random-weight model shipped for tests (`Tests/Fixtures/tiny-bf16`), used when the
/// default model is neither cached nor downloadable, so that the quick start runs end to end on a
/// fresh offline machine. Its outputs are meaningless; the CLI says so on standard error.
/// Where to look is the caller's business (the CLI searches the package around it).
public enum FallbackModel {
    /// The fixture folder, relative to a package root.
    public static let relativePath = "Tests/Fixtures/tiny-bf16"
    public static let embeddingFile = "embedding.pth"
    public static let rerankerFile = "reranker.pth"

    /// The first of `environment.fallbackDirectory` (`RWKV_EMB_FALLBACK_DIR`) and `candidates` that
    /// holds both checkpoints of the fallback model.
    public static func locate(environment: HubEnvironment, candidates: [URL]) -> URL? {
        ([environment.fallbackDirectory].compactMap { $0 } + candidates).first(where: holdsModel)
    }

    static func holdsModel(_ directory: URL) -> Bool {
        FileSystem.regularFileSize(directory.appendingPathComponent(embeddingFile)) != nil
            && FileSystem.regularFileSize(directory.appendingPathComponent(rerankerFile)) != nil
    }
}
