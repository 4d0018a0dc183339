import ArgumentParser
import EmbeddingRWKV
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

    @Option(help: ArgumentHelp("Embedding model: a file, a directory or a name (tiny, base, large, hf:OWNER/REPO/FILE). "
                               + "Default: the one the collection was created with, else tiny.", valueName: "model"))
    var model: String?

    @Option(help: ArgumentHelp("Reranker: a file, a directory or a name. Default: the one the collection was created with, "
                               + "else the one paired with --model.", valueName: "reranker"))
    var reranker: String?

    // Not `--precision`: on `index` that names the precision of the stored states.
    @Option(name: .customLong("weight-precision"), help: PrecisionChoice.help)
    var weightPrecision: WeightPrecision = .auto

    var url: URL { URL(fileURLWithPath: collection) }

    /// The checkpoint files: the options (files, directories or names), else the manifest's, else the default model.
    func resolveCheckpoints(manifest: CollectionManifest?) async throws -> (embedding: URL, reranker: URL) {
        try await ModelLocator.pair(model: model ?? manifest?.embeddingCheckpoint,
                                    reranker: reranker ?? manifest?.rerankerCheckpoint)
    }

    /// Loads the models that `resolveCheckpoints` names.
    func loadModels(manifest: CollectionManifest?) async throws -> RetrievalModels {
        let files = try await resolveCheckpoints(manifest: manifest)
        return try RetrievalModels.load(embedding: files.embedding, reranker: files.reranker,
                                        precision: PrecisionChoice.resolve(weightPrecision))
    }

    /// Opens an existing collection (models only when needed).
    func open(needsModels: Bool, writable: Bool = false) async throws -> DocumentCollection {
        let manifest = try DocumentCollection.readManifest(at: url)
        let models = needsModels ? try await loadModels(manifest: manifest) : nil
        let collection = try DocumentCollection.open(at: url, models: models, writable: writable)
        Self.notePrecision(collection)
        return collection
    }

    /// Says on standard error when the models compute in another weight precision than the collection's.
    static func notePrecision(_ collection: DocumentCollection) {
        guard let m = collection.weightPrecisionMismatch else { return }
        printError("note: \(m); --weight-precision \(m.collection.rawValue) computes as the collection did")
    }
}

/// `--batch-documents` and `--batch-tokens`: how `DocumentCollection.add` batches its documents (`AddOptions`,
/// whose defaults these are).
struct AddBatchOptions: ParsableArguments {
    @Option(help: "Documents per batch (at most).")
    var batchDocuments: Int = AddOptions().batchDocuments

    @Option(help: "Tokens per batch (at most, roughly).")
    var batchTokens: Int = AddOptions().batchTokens

    func validate() throws {
        guard batchDocuments >= 1, batchTokens >= 1 else { throw ValidationError("batch sizes must be at least 1") }
    }

    func addOptions(storeStates: Bool = true) -> AddOptions {
        AddOptions(batchDocuments: batchDocuments, batchTokens: batchTokens, storeStates: storeStates)
    }
}

/// The options of `index` that apply only when it creates the collection; given for an existing one, they
/// must match its manifest.
struct NewCollectionOptions: ParsableArguments {
    @Option(help: "Embedding input protocol of a new collection (single|paper).")
    var `protocol`: InputProtocol?

    @Option(help: "State precision of a new collection (fp32|fp16|bf16|int8|int4).")
    var precision: StatePrecision?

    @Option(help: "Passage length in tokens of a new collection (documents longer than this are split).")
    var passageTokens: Int?

    @Option(help: "Tokens shared by consecutive passages of a new collection.")
    var passageOverlap: Int?

    @Flag(help: "A new collection keeps each document as one passage.")
    var noSplit = false

    func validate() throws {
        if let t = passageTokens, t < 1 { throw ValidationError("--passage-tokens must be at least 1") }
        if let o = passageOverlap, o < 0 || o >= (passageTokens ?? PassageOptions().maxTokens) {
            throw ValidationError("--passage-overlap must be at least 0 and below --passage-tokens")
        }
    }

    /// Refuses options that differ from what the existing collection was created with.
    func check(against manifest: CollectionManifest) throws {
        if let p = `protocol`, p.rawValue != manifest.inputProtocol {
            throw CommandLineError("the collection uses --protocol \(manifest.inputProtocol), not \(p.rawValue)")
        }
        if let p = precision, p != manifest.statePrecision {
            throw CommandLineError("the collection stores \(manifest.statePrecision.rawValue) states, not \(p.rawValue)")
        }
        if (passageTokens != nil && passageTokens != manifest.passageTokens) || (passageOverlap != nil && passageOverlap != manifest.passageOverlap)
            || (noSplit && manifest.split) {
            throw CommandLineError("the collection splits documents into \(manifest.split ? "passages of \(manifest.passageTokens) tokens (overlap \(manifest.passageOverlap))" : "one passage each"); passage options apply to new collections only")
        }
    }

    func configuration(checkpoints files: (embedding: URL, reranker: URL), shard: ShardAssignment) -> CollectionConfiguration {
        .command(checkpoints: files, statePrecision: precision ?? CollectionConfiguration().statePrecision,
                 inputProtocol: `protocol` ?? CollectionConfiguration().inputProtocol,
                 passageTokens: passageTokens, passageOverlap: passageOverlap, split: !noSplit, shard: shard)
    }
}

extension CollectionConfiguration {
    /// A new collection made by a command: its checkpoint files recorded (later commands default to them),
    /// passages of `passageTokens` (default: `PassageOptions`'s, 512) overlapping by `passageOverlap` (default:
    /// `PassageOptions`'s 64, at most an eighth of the passage).
    static func command(checkpoints files: (embedding: URL, reranker: URL), statePrecision: StatePrecision, inputProtocol: InputProtocol,
                        passageTokens: Int? = nil, passageOverlap: Int? = nil, split: Bool = true,
                        shard: ShardAssignment = .unsharded) -> CollectionConfiguration {
        let defaults = PassageOptions()
        let tokens = passageTokens ?? defaults.maxTokens
        return CollectionConfiguration(statePrecision: statePrecision, inputProtocol: inputProtocol,
                                       embeddingCheckpoint: files.embedding.standardizedFileURL.path,
                                       rerankerCheckpoint: files.reranker.standardizedFileURL.path,
                                       passages: PassageOptions(maxTokens: tokens, overlapTokens: passageOverlap ?? min(defaults.overlapTokens, tokens / 8), split: split),
                                       shard: shard)
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
