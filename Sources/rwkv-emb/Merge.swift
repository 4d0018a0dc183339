import ArgumentParser
import Foundation
import RWKVRetrieval

/// `rwkv-emb merge`: combine collections, shards or worker outputs into one collection.
struct Merge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge collections, shards or worker outputs into one collection (created if absent).",
        discussion: """
            Each source is a collection directory (or its segments/ folder) built with the same models, state \
            precision and passage options. Its documents are copied (embedding rows and states as they are, \
            checked against their checksums) unless already present with the same content: merging twice adds \
            nothing. Each source is one transaction: after a crash the destination holds all of it or none. \
            With --shard I/N (or a sharded destination) only that shard's documents are taken.
            """
    )

    @Option(help: ArgumentHelp("The destination collection directory.", valueName: "dir"))
    var collection: String

    @Option(help: ArgumentHelp("Keep only shard I of N (a new destination records it).", valueName: "I/N"))
    var shard: String?

    @Argument(help: ArgumentHelp("Source collection, shard or segment directories.", valueName: "dir"))
    var sources: [String]

    func validate() throws {
        guard !sources.isEmpty else { throw ValidationError("give at least one source directory") }
    }

    func run() async throws {
        let shardFilter = try shard.map(ShardAssignment.init(parsing:))
        let urls = sources.map { URL(fileURLWithPath: $0) }
        // Every source is checked before anything is written.
        for u in urls where !DocumentCollection.exists(at: DocumentCollection.mergeSourceURL(u)) {
            throw RetrievalError.notACollection(path: u.path)
        }
        let destination = try DocumentCollection.openMergeDestination(at: URL(fileURLWithPath: collection), like: urls[0], shard: shardFilter)
        for u in urls {
            let r = try destination.merge(from: u)
            print("merged \(r.source): \(r.documentsAdded) added, \(r.documentsReplaced) replaced, \(r.documentsSkipped) skipped "
                  + "(\(r.passagesCopied) passages, \(r.bytesCopied) bytes, \(r.segmentsCreated) segment files)")
            fflush(nil)
        }
        print("the collection holds \(destination.count) documents (shard \(destination.manifest.shard))")
    }
}
