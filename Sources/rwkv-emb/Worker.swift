import ArgumentParser
import EmbeddingRWKV
import Foundation
import RWKVRetrieval

/// `rwkv-emb worker`: a long-lived indexing process for cluster runners (integrations/ray): loads the
/// models once, reads JSONL documents on standard input, adds each batch to its own collection and
/// acknowledges it on standard output only once it is durable.
struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Streaming indexer: JSONL documents on stdin, one acknowledgement per durable batch on stdout.",
        discussion: """
            Standard input: document lines as `index` reads JSONL ({"id", "text", "title"?, "metadata"?}), each \
            batch ended by a control line {"commit": TAG} (TAG: any JSON string or number); end of input commits \
            what is pending. After the batch is committed (fsync'd, one SQLite transaction per engine batch) one \
            line goes to standard output: {"commit": TAG, "documents": N, "added", "updated", "unchanged", \
            "other_shard"}; a batch with a bad line is refused whole: {"commit": TAG, "error": "..."}, and the \
            worker goes on. Sending a batch again (a retried task) adds nothing twice: documents whose id and \
            content are already stored are skipped. The first line written is {"ready": true, ...}, once the \
            models are loaded. With --shard I/N, documents of other shards are counted and dropped.
            """
    )

    @OptionGroup var collectionOptions: CollectionOptions

    // Defaults: the library's (`CollectionConfiguration`, `PassageOptions`, `AddOptions`).
    @Option(help: "State precision of a new collection (fp32|fp16|bf16|int8); must equal the final collection's.")
    var precision: StatePrecision = CollectionConfiguration().statePrecision

    @Option(help: "Embedding input protocol of a new collection (single|paper).")
    var `protocol`: InputProtocol = CollectionConfiguration().inputProtocol

    @Option(help: "Passage length in tokens of a new collection.")
    var passageTokens: Int = PassageOptions().maxTokens

    @Option(help: "Tokens shared by consecutive passages of a new collection (default: min(64, passage tokens / 8)).")
    var passageOverlap: Int?

    @Option(help: ArgumentHelp("Keep only shard I of N.", valueName: "I/N"))
    var shard: String?

    @Option(help: "Documents per engine batch (at most).")
    var batchDocuments: Int = AddOptions().batchDocuments

    @Flag(help: "Do not compute reranker states.")
    var noStates = false

    func run() async throws {
        let shardAssignment = try shard.map(ShardAssignment.init(parsing:)) ?? .unsharded
        let url = collectionOptions.url
        let manifest = DocumentCollection.exists(at: url) ? try DocumentCollection.readManifest(at: url) : nil
        let files = try await collectionOptions.resolveCheckpoints(manifest: manifest)
        let models = try RetrievalModels.load(embedding: files.embedding, reranker: files.reranker,
                                              precision: PrecisionChoice.resolve(collectionOptions.weightPrecision))
        let collection = try DocumentCollection.openOrCreate(
            at: url, models: models,
            configuration: .command(checkpoints: files, statePrecision: precision, inputProtocol: `protocol`,
                                    passageTokens: passageTokens, passageOverlap: passageOverlap))
        emit(["ready": true, "collection": url.path, "documents": collection.count, "shard": shardAssignment.description])
        var pending: [Substring] = []
        var batches = 0
        func commit(_ tag: Any) {
            batches += 1
            let lines = pending
            pending.removeAll()
            do {
                let documents = try DocumentInputs.parseJSONL(Data(lines.joined(separator: "\n").utf8), source: "batch \(batches)")
                let mine = documents.filter { shardAssignment.contains($0.id) }
                let added = try collection.add(mine, options: .init(batchDocuments: batchDocuments, storeStates: !noStates))
                var counts: [AddedDocument.Outcome: Int] = [:]
                for a in added { counts[a.outcome, default: 0] += 1 }
                emit(["commit": tag, "documents": documents.count, "added": counts[.added, default: 0],
                      "updated": counts[.updated, default: 0], "unchanged": counts[.unchanged, default: 0],
                      "other_shard": documents.count - mine.count])
            } catch {
                emit(["commit": tag, "error": "\(error)"])
            }
        }
        while let line = readLine(strippingNewline: true) {
            if let tag = Self.commitTag(line) {
                commit(tag)
            } else if !line.allSatisfy(\.isWhitespace) {
                pending.append(Substring(line))
            }
        }
        if !pending.isEmpty { commit(NSNull()) }
    }

    /// The TAG of a `{"commit": TAG}` control line (nil for a document line).
    static func commitTag(_ line: String) -> Any? {
        guard line.contains("\"commit\""), !line.contains("\"text\""),
              let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
        return object["commit"]
    }

    private func emit(_ object: [String: Any]) {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }
}
