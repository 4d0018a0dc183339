import ArgumentParser
import Foundation
import RWKVRetrieval
import RWKVSupport

/// `--where JSON`: a metadata filter (the one filter language of CLI, HTTP and Swift).
func parseFilter(_ json: String?) throws -> MetadataFilter? {
    guard let json else { return nil }
    do { return try MetadataFilter.parse(json: json) } catch {
        throw CommandLineError("--where: \(error)")
    }
}

/// `--collection DIR` of the commands that need no model.
struct CollectionDirectory: ParsableArguments {
    @Option(help: ArgumentHelp("The collection directory.", valueName: "dir"))
    var collection: String

    var url: URL { URL(fileURLWithPath: collection) }

    /// Opens the collection without models (listing, deleting, statistics, compaction).
    func open(writable: Bool = false, compaction: CompactionPolicy = .init()) throws -> DocumentCollection {
        try DocumentCollection.open(at: url, models: nil, writable: writable, compaction: compaction)
    }
}

/// `rwkv-emb list`: the documents of a collection.
struct ListDocuments: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the documents of a collection.")

    @OptionGroup var directory: CollectionDirectory

    @Option(name: .customLong("where"), help: ArgumentHelp("Only documents whose metadata matches this filter (JSON).", valueName: "json"))
    var filter: String?

    @Flag(help: "Print JSON lines.")
    var json = false

    func run() async throws {
        let c = try directory.open()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for d in try c.list(where: try parseFilter(filter)) {
            if json {
                print(String(decoding: try encoder.encode(DocumentListItem(d)), as: UTF8.self))
            } else {
                print("\(d.id)\t\(d.passages) passages\t\(d.embeddingTokens) tokens\t\(d.textBytes) bytes\(d.hasState ? "" : "\tno state")")
            }
        }
    }
}

/// `rwkv-emb delete`: remove documents by id or by metadata filter.
struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete documents from a collection by id or by --where filter.")

    @OptionGroup var directory: CollectionDirectory

    @Option(name: .customLong("where"), help: ArgumentHelp("Delete the documents whose metadata matches this filter (JSON).", valueName: "json"))
    var filter: String?

    @Argument(help: "Document ids.")
    var ids: [String] = []

    func validate() throws {
        guard !ids.isEmpty || filter != nil else { throw ValidationError("give document ids or --where") }
    }

    func run() async throws {
        let c = try directory.open(writable: true)
        var deleted = Set(try c.delete(ids: ids))
        if let f = try parseFilter(filter) { deleted.formUnion(try c.delete(where: f)) }
        for id in ids where !deleted.contains(id) { printError("warning: no document \(id)") }
        print("deleted \(deleted.count) documents; the collection holds \(c.count)")
        if !ids.isEmpty && !Set(ids).isSubset(of: deleted) { throw ExitCode(1) }
    }
}

/// `rwkv-emb stats`: sizes and configuration.
struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a collection's size, precision and model.")

    @OptionGroup var directory: CollectionDirectory

    func run() async throws {
        let url = directory.url
        let c = try directory.open()
        let s = c.stats()
        let m = c.manifest
        print("collection: \(url.path) (format version \(m.version)\(c.isLegacy ? ", read-only until `rwkv-emb migrate`" : ""), created \(m.created))")
        print("documents: \(s.documents) in \(s.passages) passages (\(s.passagesWithState) with a cached state, states kept for \(s.stateRetention)); passages of \(m.split ? "\(m.passageTokens) tokens, overlap \(m.passageOverlap)" : "whole documents")")
        print("tokens: \(s.embeddingTokens) embedding input, \(s.stateTokens) state template; text \(s.textBytes) bytes")
        print("embedding: \(s.dimension) x fp32 = \(s.embeddingBytesPerPassage) bytes per passage")
        print("state: layers 0..<\(s.stateLayers), WKV \(s.statePrecision.rawValue), token shift \(s.shiftPrecision) = \(s.stateBytesPerPassage) bytes per passage")
        print("model: \(s.model.description); protocol \(m.inputProtocol)")
        print(String(format: "disk: %d bytes, %.0f bytes per passage, SQLite %.1f%% (%d bytes); %d dead bytes (%.1f%% of the segments) in %d dead rows",
                     s.totalBytes, s.bytesPerPassage, s.sqliteShare * 100, s.sqliteBytes, s.deadBytes,
                     s.segmentBytes > 0 ? Double(s.deadBytes) / Double(s.segmentBytes) * 100 : 0, s.deadRows))
        let files = s.fileBytes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print("files: \(files)")
        if let a = s.ann { print(ANNOptions.describe(a, stats: s)) }
    }
}

/// `rwkv-emb compact`: reclaim the space of replaced and deleted documents.
struct Compact: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rewrite the live embedding rows and states into new segments, reclaiming dead bytes.")

    @OptionGroup var directory: CollectionDirectory

    @Flag(help: "Rewrite every segment, not only those with dead bytes.")
    var all = false

    func run() async throws {
        let c = try directory.open(writable: true, compaction: .init(deadShare: nil))
        let r = try c.compact(all: all)
        c.waitForFileRemovals()  // the library unlinks the old files in the background; the command exits after it
        print(String(format: "compacted: %d passages moved, %d bytes copied; segments %d -> %d files, %d -> %d bytes, in %.3f s",
                     r.passagesMoved, r.bytesCopied, r.segmentsBefore, r.segmentsAfter, r.bytesBefore, r.bytesAfter, r.seconds))
        if r.annRebuildStarted {
            // The library builds it in the background (a server keeps searching meanwhile); this
            // command is the maintenance step, so it waits for the saved index before exiting.
            let start = ContinuousClock.now
            c.waitForIndexRebuild()
            let elapsed = String(format: "%.3f", (ContinuousClock.now - start).seconds)
            print("ANN index rebuilt without its deleted labels in \(elapsed) s (\(c.stats().ann?.origin ?? "-"))")
        }
    }
}

/// `rwkv-emb migrate`: convert a version-1 collection to version 2.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a version-1 collection to format version 2 (the old files are kept in v1-backup/).")

    @OptionGroup var directory: CollectionDirectory

    @Flag(help: "Remove v1-backup/ once the new collection is complete.")
    var deleteBackup = false

    func run() async throws {
        let r = try LegacyCollection.migrate(at: directory.url, deleteBackup: deleteBackup)
        print("migrated: \(r.documents) documents; \(r.embeddingBytes) embedding bytes, \(r.stateBytes) state bytes copied; "
              + (deleteBackup ? "backup removed" : "version-1 files in \(r.backup)"))
    }
}
