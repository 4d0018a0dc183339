import ArgumentParser
import Foundation
import RWKVRetrieval

/// `rwkv-emb list`: the documents of a collection.
struct ListDocuments: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the documents of a collection.")

    @Option(help: ArgumentHelp("The collection directory.", valueName: "dir"))
    var collection: String

    @Flag(help: "Print JSON lines.")
    var json = false

    func run() throws {
        let c = try DocumentCollection.open(at: URL(fileURLWithPath: collection), models: nil)
        for d in c.list() {
            if json {
                var o: [String: Any] = ["id": d.id, "state_tokens": d.stateTokens, "embedding_tokens": d.embeddingTokens,
                                        "text_bytes": d.textBytes, "has_state": d.hasState]
                if let m = d.metadata, let v = try? JSONSerialization.jsonObject(with: Data(m.utf8)) { o["metadata"] = v }
                let data = try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("\(d.id)\t\(d.embeddingTokens) tokens\t\(d.textBytes) bytes\(d.hasState ? "" : "\tno state")")
            }
        }
    }
}

/// `rwkv-emb delete`: remove documents by id.
struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete documents from a collection by id.")

    @Option(help: ArgumentHelp("The collection directory.", valueName: "dir"))
    var collection: String

    @Argument(help: "Document ids.")
    var ids: [String]

    func run() throws {
        let c = try DocumentCollection.open(at: URL(fileURLWithPath: collection), models: nil, writable: true)
        let deleted = Set(try c.delete(ids: ids))
        for id in ids where !deleted.contains(id) { printError("warning: no document \(id)") }
        print("deleted \(deleted.count) documents; the collection holds \(c.count)")
        if deleted.count < Set(ids).count { throw ExitCode(1) }
    }
}

/// `rwkv-emb stats`: sizes and configuration.
struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a collection's size, precision and model.")

    @Option(help: ArgumentHelp("The collection directory.", valueName: "dir"))
    var collection: String

    func run() throws {
        let url = URL(fileURLWithPath: collection)
        let c = try DocumentCollection.open(at: url, models: nil)
        let s = c.stats()
        let m = c.manifest
        print("collection: \(url.path) (format version \(m.version), created \(m.created))")
        print("documents: \(s.documents) (\(s.documentsWithState) with a cached state)")
        print("tokens: \(s.embeddingTokens) embedding input, \(s.stateTokens) state template; text \(s.textBytes) bytes")
        print("embedding: \(s.dimension) x fp32 = \(s.embeddingBytesPerDocument) bytes per document")
        print("state: layers 0..<\(s.stateLayers), WKV \(s.statePrecision.rawValue), token shift \(s.shiftPrecision) = \(s.stateBytesPerDocument) bytes per document")
        print("model: \(s.model.description); protocol \(m.inputProtocol)")
        let files = s.fileBytes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print("files: \(files) bytes; \(s.deadRows) rows of replaced or deleted documents")
    }
}
