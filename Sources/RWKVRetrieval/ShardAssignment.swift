import Crypto
import Foundation

/// Which shard of a sharded collection a document belongs to: `UInt64(bigEndian: first 8 bytes of
/// SHA-256(id)) % count` (docs/collection-format-v2.md, "Shards and merge"). Stable across processes,
/// machines and versions: it depends on the id's UTF-8 bytes only.
public struct ShardAssignment: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    /// The whole collection (one shard).
    public static let unsharded = ShardAssignment(uncheckedIndex: 0, count: 1)

    public init(index: Int, count: Int) throws {
        guard count >= 1, index >= 0, index < count else {
            throw RetrievalError.invalidInput("shard \(index)/\(count): the shard count must be at least 1 and the index in 0..<count")
        }
        self.index = index
        self.count = count
    }

    private init(uncheckedIndex: Int, count: Int) {
        index = uncheckedIndex
        self.count = count
    }

    /// Parses `I/N` (shard I of N, 0-based).
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw RetrievalError.invalidInput("shard \"\(text)\": expected I/N, e.g. 0/4 (shard 0 of 4)")
        }
        try self.init(index: i, count: n)
    }

    /// The shard of `id` among `count` shards.
    public static func shard(of id: String, count: Int) -> Int {
        guard count > 1 else { return 0 }
        let digest = Array(SHA256.hash(data: Array(id.utf8)))
        let prefix = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }  // big-endian
        return Int(prefix % UInt64(count))
    }

    /// Whether `id` belongs to this shard.
    public func contains(_ id: String) -> Bool { Self.shard(of: id, count: count) == index }

    public var isSharded: Bool { count > 1 }

    public var description: String { "\(index)/\(count)" }
}

extension CollectionManifest {
    /// The shard this collection holds (the whole collection when unsharded).
    public var shard: ShardAssignment {
        (try? ShardAssignment(index: shardIndex, count: shardCount)) ?? .unsharded
    }
}

extension DocumentCollection {
    /// Refuses documents of other shards (a sharded collection holds only its own; `rwkv-emb index
    /// --shard` filters before adding).
    func checkShard(_ documents: [Document]) throws {
        let shard = manifest.shard
        guard shard.isSharded else { return }
        if let d = documents.first(where: { !shard.contains($0.id) }) {
            throw RetrievalError.invalidInput("document \"\(d.id)\" belongs to shard \(ShardAssignment.shard(of: d.id, count: shard.count))/\(shard.count), not to this collection's shard \(shard)")
        }
    }
}
