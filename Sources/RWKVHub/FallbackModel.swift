import Foundation

/// The small random-weight model shipped for tests (`Tests/Fixtures/tiny-bf16`), used when the
/// default model is neither cached nor downloadable, so that the quick start runs end to end on a
/// fresh offline machine. Its outputs are meaningless; the CLI says so on standard error.
public enum FallbackModel {
    /// The fixture folder, relative to a package root.
    public static let relativePath = "Tests/Fixtures/tiny-bf16"
    public static let embeddingFile = "embedding.pth"
    public static let rerankerFile = "reranker.pth"

    /// The first folder holding the fallback model among: `RWKV_EMB_FALLBACK_DIR`; the package
    /// around the current directory; the package around the executable (`.build/<config>/rwkv-emb`).
    public static func locate(environment: HubEnvironment, currentDirectory: URL?, executable: URL?) -> URL? {
        if let directory = environment.fallbackDirectory, holdsModel(directory) {
            return directory
        }
        for start in [currentDirectory, executable?.resolvingSymlinksInPath().deletingLastPathComponent()] {
            guard var folder = start?.standardizedFileURL else { continue }
            for _ in 0..<12 {
                let candidate = folder.appendingPathComponent(relativePath, isDirectory: true)
                if FileSystem.regularFileSize(folder.appendingPathComponent("Package.swift")) != nil, holdsModel(candidate) {
                    return candidate
                }
                let parent = folder.deletingLastPathComponent()
                if parent.path == folder.path { break }
                folder = parent
            }
        }
        return nil
    }

    static func holdsModel(_ directory: URL) -> Bool {
        FileSystem.regularFileSize(directory.appendingPathComponent(embeddingFile)) != nil
            && FileSystem.regularFileSize(directory.appendingPathComponent(rerankerFile)) != nil
    }

    /// This process's executable, symbolic links resolved (nil if unknown).
    public static var currentExecutable: URL? {
        #if os(Linux)
        let link = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        if link.path != "/proc/self/exe" { return link }
        #endif
        return Bundle.main.executableURL?.resolvingSymlinksInPath()
    }
}
