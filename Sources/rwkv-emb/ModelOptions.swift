import ArgumentParser
import Foundation
import RWKVHub

/// `--model` and `--reranker` of the commands that run a model.
///
/// Each takes a checkpoint file, a directory (searched by naming convention), or a name: `tiny`,
/// `base`, `large` or `hf:OWNER/REPO/FILE[@revision]`, found in the Hugging Face cache or downloaded.
/// Without `--model` the default `tiny` is used, falling back (with a notice) to the small
/// random-weight test model when it is neither cached nor downloadable.
struct ModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Embedding model: a .pth/.safetensors file, a directory, or a name "
                               + "(tiny, base, large, hf:OWNER/REPO/FILE[@revision]) (default: \(KnownModels.defaultName)).",
                               valueName: "model"))
    var model: String?

    @Option(help: ArgumentHelp("Reranker: a file, a directory or a name (default: the one paired with --model).",
                               valueName: "reranker"))
    var reranker: String?

    /// The embedding checkpoint.
    func embeddingURL() async throws -> URL {
        try await ModelLocator.embedding(model: model)
    }

    /// The embedding checkpoint and its reranker.
    func pairURLs() async throws -> (embedding: URL, reranker: URL) {
        try await ModelLocator.pair(model: model, reranker: reranker)
    }
}

/// Model arguments -> checkpoint files, for every command (progress and notices on standard error).
enum ModelLocator {
    static func resolver(environment: HubEnvironment = .current) -> ModelResolver {
        ModelResolver(environment: environment,
                      currentDirectory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true),
                      executable: FallbackModel.currentExecutable,
                      progress: ProgressReporter().handler,
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
}
