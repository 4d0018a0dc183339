import ArgumentParser
import Foundation
import RWKVHub
import RWKVRetrieval
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `--collection` and the model checkpoints (defaulting to the ones recorded when the collection was created).
struct CollectionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The collection directory.", valueName: "dir"))
    var collection: String

    @Option(help: ArgumentHelp("Embedding checkpoint (.pth or .safetensors); default: the one the collection was created with.",
                               valueName: "path"))
    var model: String?

    @Option(help: ArgumentHelp("Reranker checkpoint; default: the one the collection was created with.", valueName: "path"))
    var reranker: String?

    var url: URL { URL(fileURLWithPath: collection) }

    /// Loads the models: the given paths, else the manifest's.
    func loadModels(manifest: CollectionManifest?) throws -> RetrievalModels {
        guard let m = model ?? manifest?.embeddingCheckpoint else {
            throw CommandLineError("--model is required (the collection records no embedding checkpoint)")
        }
        guard let r = reranker ?? manifest?.rerankerCheckpoint else {
            throw CommandLineError("--reranker is required (the collection records no reranker checkpoint)")
        }
        for p in [m, r] where !FileManager.default.fileExists(atPath: p) {
            throw CommandLineError("\(p): no such checkpoint file")
        }
        return try RetrievalModels.load(embedding: URL(fileURLWithPath: m), reranker: URL(fileURLWithPath: r))
    }

    /// Opens an existing collection (models only when needed).
    func open(needsModels: Bool, writable: Bool = false) throws -> DocumentCollection {
        let manifest = try DocumentCollection.readManifest(at: url)
        let models = needsModels ? try loadModels(manifest: manifest) : nil
        return try DocumentCollection.open(at: url, models: models, writable: writable)
    }
}

/// Progress of an indexing run (documents, tokens): a redrawn bar on a terminal, plain lines otherwise (both on standard error).
final class IndexProgress {
    let total: Int
    let label: String
    let isTerminal: Bool
    let start = ContinuousClock.now
    var lastLine = ContinuousClock.now
    var lastWidth = 0

    init(total: Int, label: String) {
        self.total = total
        self.label = label
        isTerminal = isatty(STDERR_FILENO) != 0
    }

    func update(done: Int, tokens: Int, final: Bool = false) {
        let elapsed = max(1e-9, (ContinuousClock.now - start) / .seconds(1))
        let rate = Double(done) / elapsed, tokenRate = Double(tokens) / elapsed
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let stats = String(format: "%d/%d %@  %.1f docs/s  %.0f tokens/s  ETA %@", done, total, label, rate, tokenRate, ProgressReporter.duration(eta))
        if isTerminal {
            let width = 30
            let filled = total > 0 ? min(width, done * width / total) : width
            let bar = String(repeating: "=", count: filled) + (filled < width ? ">" + String(repeating: " ", count: width - filled - 1) : "")
            var line = "\r[\(bar)] \(stats)"
            if line.count < lastWidth { line += String(repeating: " ", count: lastWidth - line.count) }
            lastWidth = line.count
            FileHandle.standardError.write(Data((line + (final ? "\n" : "")).utf8))
        } else if final || (ContinuousClock.now - lastLine) >= .seconds(2) {
            lastLine = ContinuousClock.now
            FileHandle.standardError.write(Data(("progress: " + stats + "\n").utf8))
        }
    }
}

extension StatePrecision: ExpressibleByArgument {}
extension DocumentInputs.Format: ExpressibleByArgument {}

func printError(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
}
