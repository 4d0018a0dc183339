import ArgumentParser
import Foundation
import RWKVHub

/// `rwkv-emb download tiny`: fetches a released model (embedding model + paired reranker) or one
/// Hub file into the Hugging Face cache, where Python tools find it too.
struct Download: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download a model (the embedding model and its paired reranker) into the Hugging Face cache.",
        discussion: """
        Names: \(KnownModels.names.joined(separator: ", ")) (from \(KnownModels.repository)), or \
        hf:OWNER/REPO/FILE[@revision] for one file. Files go to $HF_HUB_CACHE, $HF_HOME/hub or \
        ~/.cache/huggingface/hub in the layout the Python huggingface_hub library uses. HF_ENDPOINT picks \
        the server, HF_TOKEN authenticates, HF_HUB_OFFLINE=1 forbids the network. An interrupted download \
        resumes where it stopped; every file is checked (size, sha256) before it is used.
        """
    )

    @Argument(help: ArgumentHelp("Model names (default: \(KnownModels.defaultName)).", valueName: "name"))
    var names: [String] = []

    @Option(help: "Attempts per file when the connection breaks (each resumes the last).")
    var attempts: Int = 5

    func run() async throws {
        let environment = HubEnvironment.current
        var files: [HubFile] = []
        for name in names.isEmpty ? [KnownModels.defaultName] : names {
            switch try ModelReference.parse(name) {
            case let .hub(file): files.append(file)
            case let .known(known): files += [known.embedding, known.reranker]
            case .file, .directory: throw CommandLineError("'\(name)' is a local path: there is nothing to download")
            }
        }
        var configuration = DownloadConfiguration()
        configuration.maxAttempts = max(1, attempts)
        let downloader = Downloader(environment: environment, configuration: configuration)
        let results = try await downloader.download(files, progress: ProgressReporter.standardError().handler)
        for result in results {
            writeToStandardOutput("\(result.file)\t\(ByteCount.format(result.size))\t\(result.url.path)\n")
        }
    }
}
