import ArgumentParser
import EmbeddingRWKV
import Foundation
import RWKVRetrieval

/// `rwkv-emb index`: add documents to a collection (creating it on first use).
struct Index: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add documents to a collection: embeddings and cached reranker states.",
        discussion: """
            Inputs: text files (id = the path as given), directories (recursively; --include/--exclude \
            globs match a file's name or relative path; hidden entries are skipped), JSONL files \
            (one {"id", "text", "title"?, "metadata"?} per line; title is joined as "title text") and \
            standard input (-: JSONL when it starts with '{', else one text document). All inputs are read \
            and checked before anything is indexed. Unchanged documents are skipped; changed ones replaced.
            """
    )

    @OptionGroup var collectionOptions: CollectionOptions

    @Option(help: ArgumentHelp("Only files matching these globs (repeatable).", valueName: "glob"))
    var include: [String] = []

    @Option(help: ArgumentHelp("Skip files and directories matching these globs (repeatable).", valueName: "glob"))
    var exclude: [String] = []

    @Option(help: "How to read inputs (auto|text|jsonl).")
    var format: DocumentInputs.Format = .auto

    @OptionGroup var batches: AddBatchOptions

    @OptionGroup var newCollection: NewCollectionOptions

    @Flag(help: "Do not compute reranker states in this run (search then reranks these documents online).")
    var noStates = false

    @Option(help: ArgumentHelp("Which passages keep a cached reranker state, from now on: all (default), none, or first:N (the first N of each document); the others are reranked online.", valueName: "all|none|first:N"))
    var states: String?

    @Flag(help: "Print one line per committed document to standard output (`added|updated|unchanged <id>`).")
    var logDocuments = false

    @Option(help: ArgumentHelp("Build shard I of N: keep only the documents whose id hashes to it (a new collection records it).", valueName: "I/N"))
    var shard: String?

    @OptionGroup var annOptions: ANNOptions

    @Argument(help: ArgumentHelp("Files, directories, JSONL files, or - for standard input.", valueName: "path"))
    var paths: [String]

    func validate() throws {
        guard !paths.isEmpty else { throw ValidationError("give at least one path (or - for standard input)") }
        if let states {
            do { _ = try StateRetention(parsing: states) } catch { throw ValidationError("--states: \(error)") }
        }
    }

    func run() async throws {
        let url = collectionOptions.url
        let manifest = DocumentCollection.exists(at: url) ? try DocumentCollection.readManifest(at: url) : nil
        if let manifest { try newCollection.check(against: manifest) }
        let shardAssignment = try shard.map(ShardAssignment.init(parsing:)) ?? manifest?.shard ?? .unsharded
        if let manifest, shardAssignment != manifest.shard {
            throw CommandLineError("the collection holds shard \(manifest.shard), not \(shardAssignment)")
        }
        // Read every input first: a bad file or line stops here, before anything is written.
        let documents = try DocumentInputs.read(paths, options: .init(include: include, exclude: exclude, format: format))
            .filter { shardAssignment.contains($0.id) }
        let files = try await collectionOptions.resolveCheckpoints(manifest: manifest)
        let models = try RetrievalModels.load(embedding: files.embedding, reranker: files.reranker,
                                              precision: PrecisionChoice.resolve(collectionOptions.weightPrecision))
        let collection: DocumentCollection
        if manifest != nil {
            collection = try DocumentCollection.open(at: url, models: models, writable: true)
            CollectionOptions.notePrecision(collection)
        } else {
            collection = try DocumentCollection.create(
                at: url, models: models, configuration: newCollection.configuration(checkpoints: files, shard: shardAssignment))
        }
        try annOptions.apply(to: collection)
        if let states { try collection.setStateRetention(try StateRetention(parsing: states)) }
        let reporter = IndexProgress(total: documents.count, label: "documents")
        let start = ContinuousClock.now
        var counts: [AddedDocument.Outcome: Int] = [:]
        var tokens = 0
        var passages = 0
        try collection.add(documents, options: batches.addOptions(storeStates: !noStates)) { p in
            for d in p.committed {
                counts[d.outcome, default: 0] += 1
                passages += d.passages
                if logDocuments { print("\(d.outcome.rawValue) \(d.id)") }
            }
            if logDocuments { fflush(nil) }
            tokens = p.tokensDone
            reporter.update(done: p.documentsDone, tokens: p.tokensDone, final: p.documentsDone == p.documentsTotal)
        }
        let seconds = (ContinuousClock.now - start) / .seconds(1)
        print(String(format: "indexed: %d added, %d updated, %d unchanged (%d passages, %d tokens) in %.2f s; the collection holds %d documents",
                     counts[.added, default: 0], counts[.updated, default: 0], counts[.unchanged, default: 0],
                     passages, tokens, seconds, collection.count))
    }
}

extension InputProtocol: ExpressibleByArgument {}
