import Foundation
import NIOConcurrencyHelpers
import RWKVRetrieval

/// The collections a server serves, by name: those named on the command line (`--collection DIR`,
/// named after the folder) and those under the collections root (created through the API).
final class CollectionRegistry: Sendable {
    struct Entry: Sendable {
        var collection: DocumentCollection
        var url: URL
    }

    let root: URL?
    let models: RetrievalModels?
    private let entries = NIOLockedValueBox<[String: Entry]>([:])

    init(root: URL?, models: RetrievalModels?) {
        self.root = root
        self.models = models
    }

    /// Opens (or creates) the command-line collections and every collection under the root.
    func openAll(paths: [URL]) throws {
        guard !paths.isEmpty || root != nil else { return }
        guard let models else { throw APIError(.validation, "collections need a reranker, and this server was started without one") }
        var urls = paths
        if let root {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            let children = (try? FileManager.default.contentsOfDirectory(at: root, includingPropertiesForKeys: nil)) ?? []
            for child in children.sorted(by: { $0.path < $1.path })
            where DocumentCollection.exists(at: child) {
                urls.append(child)
            }
        }
        for url in urls {
            let name = url.standardizedFileURL.lastPathComponent
            guard Self.isValidName(name) else { throw APIError(.validation, "collection folder name \"\(name)\" is not a valid collection name") }
            guard entries.withLockedValue({ $0[name] == nil }) else { continue }
            let collection: DocumentCollection
            if DocumentCollection.exists(at: url), (try? DocumentCollection.readManifest(at: url))?.version == 1 {
                collection = try DocumentCollection.open(at: url, models: models)  // read-only until `rwkv-emb migrate`
            } else {
                collection = try DocumentCollection.openOrCreate(at: url, models: models)
            }
            entries.withLockedValue { $0[name] = Entry(collection: collection, url: url) }
        }
    }

    /// Letters, digits, `.`, `_`, `-`; 1...64 characters; not starting with `.`.
    static func isValidName(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), !name.hasPrefix(".") else { return false }
        return name.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2E || b == 0x5F || b == 0x2D
        }
    }

    var names: [String] { entries.withLockedValue { $0.keys.sorted() } }

    func get(_ name: String) throws(APIError) -> DocumentCollection {
        guard let entry = entries.withLockedValue({ $0[name] }) else {
            throw APIError(.notFound, "no collection named \"\(name)\"", param: "name")
        }
        return entry.collection
    }

    /// Creates a collection under the root.
    func create(name: String, configuration: CollectionConfiguration) throws -> DocumentCollection {
        guard Self.isValidName(name) else {
            throw APIError.validation("collection names are 1...64 letters, digits, '.', '_' or '-' (not starting with '.')", param: "name")
        }
        guard let models else { throw APIError(.validation, "collections need a reranker, and this server was started without one") }
        guard let root else { throw APIError(.validation, "this server has no folder for new collections (it was started without a collections directory)") }
        let url = root.appendingPathComponent(name, isDirectory: true)
        return try entries.withLockedValue { map in
            guard map[name] == nil else { throw APIError(.conflict, "a collection named \"\(name)\" already exists", param: "name") }
            let collection = try DocumentCollection.create(at: url, models: models, configuration: configuration)
            map[name] = Entry(collection: collection, url: url)
            return collection
        }
    }

    /// Stops serving a collection and removes its folder.
    func delete(name: String) throws {
        let entry = try entries.withLockedValue { map throws -> Entry in
            guard let entry = map.removeValue(forKey: name) else {
                throw APIError(.notFound, "no collection named \"\(name)\"", param: "name")
            }
            return entry
        }
        try FileManager.default.removeItem(at: entry.url)
    }

    /// Releases every collection (their writes are already durable; this drops the write locks).
    func closeAll() {
        entries.withLockedValue { $0.removeAll() }
    }
}
