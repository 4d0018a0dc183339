import ArgumentParser
import Foundation
import RWKVHub

/// `rwkv-emb models`: the released names, what of them is cached (paths, sizes) and their rerankers.
struct Models: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the known model names, their paired rerankers and what is cached locally."
    )

    func run() async throws {
        let environment = HubEnvironment.current
        let statuses = ModelCatalog.status(cache: environment.cache)
        var text = "Models of \(KnownModels.repository); cache: \(environment.cacheDirectory.path)"
            + (environment.offline ? " (HF_HUB_OFFLINE: no downloads)" : "") + "\n"
        for status in statuses {
            let isDefault = status.model.name == KnownModels.defaultName ? " (default)" : ""
            text += "\n\(status.model.name)\(isDefault)  \(status.model.summary)\n"
            for (role, file, cached) in [("embedding", status.model.embeddingFile, status.embedding),
                                         ("reranker ", status.model.rerankerFile, status.reranker)] {
                if let cached {
                    text += "  \(role)  \(file)  \(ByteCount.format(cached.size))  \(cached.url.path)\n"
                } else {
                    text += "  \(role)  \(file)  not cached\n"
                }
            }
            if !status.isComplete {
                text += "  get it with: rwkv-emb download \(status.model.name)\n"
            }
        }
        let partial = environment.cache.incompleteBytes(repo: KnownModels.repository)
        if partial > 0 {
            text += "\nInterrupted downloads: \(ByteCount.format(partial)) kept in blobs/*.incomplete; "
                + "`rwkv-emb download NAME` resumes them.\n"
        }
        let fallback = FallbackModel.locate(environment: environment, candidates: FallbackSearch.candidates())
        text += "\nTest model with random weights (used only when the default model is unavailable): "
            + (fallback?.path ?? "not found") + "\n"
        text += "Any --model/--reranker also takes a file, a directory or hf:OWNER/REPO/FILE[@revision].\n"
        writeToStandardOutput(text)
    }
}
