import ArgumentParser
import Foundation
import RWKVHub

/// Model arguments -> checkpoint files, for every command that runs a model.
///
/// `--model` and `--reranker` take a checkpoint file, a directory (searched by naming convention),
/// or a name: `tiny`, `base`, `large` or `hf:OWNER/REPO/FILE[@revision]`, found in the Hugging Face
/// cache or downloaded (progress on standard error). Without `--model` the default `tiny` is used,
/// falling back (with a notice on standard error) to the small random-weight test model when it is
/// neither cached nor downloadable.
enum ModelLocator {
    /// Help text for a `--model` option.
    static let modelHelp = "Embedding model: a .pth/.safetensors file, a directory, or a name "
        + "(\(KnownModels.names.joined(separator: ", ")), hf:OWNER/REPO/FILE[@revision]) (default: \(KnownModels.defaultName))."
    /// Help text for a `--reranker` option.
    static let rerankerHelp = "Reranker: a file, a directory or a name (default: the one paired with --model)."

    static func resolver(environment: HubEnvironment = .current) -> ModelResolver {
        ModelResolver(environment: environment,
                      currentDirectory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true),
                      fallbackCandidates: FallbackSearch.candidates(),
                      progress: ProgressReporter.standardError().handler,
                      notice: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
    }

    /// `--model` (nil: the default) -> the embedding checkpoint file.
    static func embedding(model: String?) async throws -> URL {
        try await resolver().resolveEmbedding(model: model).url
    }

    /// `--model`, `--reranker` -> both checkpoint files (the reranker defaults to the model's pair).
    static func pair(model: String?, reranker: String?) async throws -> (embedding: URL, reranker: URL) {
        let pair = try await resolver().resolvePair(model: model, reranker: reranker)
        guard let rerankerURL = pair.reranker?.url else {
            throw HubError.noPairedReranker(model: model ?? KnownModels.defaultName)
        }
        return (pair.embedding.url, rerankerURL)
    }

    /// `--reranker` alone (a file, a directory or a name) -> the reranker checkpoint file.
    static func reranker(_ reranker: String) async throws -> URL {
        try await resolver().resolve(reranker, role: .reranker).url
    }
}
