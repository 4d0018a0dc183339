import Foundation
import EmbeddingRWKV

/// What a collection is: the `manifest` table of `collection.sqlite` (one JSON value per key; written
/// once, in the transaction that creates the schema). Version-1 collections kept it in `collection.json`.
public struct CollectionManifest: Codable, Sendable, Equatable {
    public static let formatName = "rwkv-emb-collection"
    public static let currentVersion = 2

    public var format: String
    public var version: Int
    public var created: String
    /// The weights the collection was built with.
    public var model: ModelFingerprint
    /// Where the checkpoints were when the collection was created (hints for the CLI; the fingerprint decides).
    public var embeddingCheckpoint: String?
    public var rerankerCheckpoint: String?
    /// Embedding input protocol (`single` or `paper`), also applied to queries.
    public var inputProtocol: String
    /// Embedding dimension (C); rows of the embedding segments are L2-normalised [RETR] embeddings.
    public var dimension: Int
    /// Embedding-model layers a stored state holds (0..<stateLayers).
    public var stateLayers: Int
    public var statePrecision: StatePrecision
    /// Token-shift precision (`TokenShiftPrecision`: "fp32" with fp32 states, "int8" with int4 states made
    /// since the int8 token shift, "fp16" otherwise).
    public var shiftPrecision: String
    /// The passage-state template, with `{text}` for the passage.
    public var stateTemplate: String
    /// The query instruction (`Instruct: {task}\nQuery: {query}` for query embeddings).
    public var queryInstruction: String
    /// How documents are split into passages (version 2; a migrated version-1 collection: one passage each).
    public var passageTokens: Int = 512
    public var passageOverlap: Int = 64
    public var split: Bool = true
    /// Shards (issue 14): 1 and 0 for an unsharded collection.
    public var shardCount: Int = 1
    public var shardIndex: Int = 0
    /// The weight precision of the matrix products the stored embeddings and states were computed with
    /// (nil: not recorded, a collection migrated from version 1 or made before the key existed). Models of
    /// another precision may still add and search: see `DocumentCollection.weightPrecisionMismatch`.
    public var weightPrecision: WeightPrecision? = nil

    public var protocolValue: InputProtocol { InputProtocol(rawValue: inputProtocol) ?? .single }
    public var passageOptions: PassageOptions { PassageOptions(maxTokens: passageTokens, overlapTokens: passageOverlap, split: split) }

    /// The manifest as `manifest` table rows (key, JSON value).
    func rows() throws -> [(key: String, value: String)] {
        let data = try JSONEncoder().encode(self)
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
        return try object.keys.sorted().map { key in
            let value = try JSONSerialization.data(withJSONObject: object[key]!, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes])
            return (key, String(decoding: value, as: UTF8.self))
        }
    }

    /// Rebuilds a manifest from `manifest` table rows.
    static func from(rows: [String: String], path: String) throws -> CollectionManifest {
        var object: [String: Any] = [:]
        for (key, value) in rows {
            object[key] = try? JSONSerialization.jsonObject(with: Data(value.utf8), options: [.fragmentsAllowed])
        }
        return try from(object: object, path: path)
    }

    /// Decodes a manifest object; keys added in version 2 take their defaults when absent (version 1).
    static func from(object: [String: Any], path: String) throws -> CollectionManifest {
        var object = object
        let defaults: [String: Any] = ["passageTokens": 512, "passageOverlap": 64, "split": true, "shardCount": 1, "shardIndex": 0]
        for (key, value) in defaults where object[key] == nil { object[key] = value }
        do {
            let data = try JSONSerialization.data(withJSONObject: object)
            return try JSONDecoder().decode(CollectionManifest.self, from: data)
        } catch {
            throw RetrievalError.corrupt(path: path, reason: "manifest: \(error)")
        }
    }
}

/// What a new collection is created with.
public struct CollectionConfiguration: Sendable {
    public var statePrecision: StatePrecision
    public var inputProtocol: InputProtocol
    public var embeddingCheckpoint: String?
    public var rerankerCheckpoint: String?
    /// How documents are split into passages (fixed for the collection's life).
    public var passages: PassageOptions
    /// The shard this collection holds (issue 14): only documents of that shard may be added.
    public var shard: ShardAssignment

    public init(statePrecision: StatePrecision = .fp16, inputProtocol: InputProtocol = .single,
                embeddingCheckpoint: String? = nil, rerankerCheckpoint: String? = nil,
                passages: PassageOptions = PassageOptions(), shard: ShardAssignment = .unsharded) {
        self.statePrecision = statePrecision
        self.inputProtocol = inputProtocol
        self.embeddingCheckpoint = embeddingCheckpoint
        self.rerankerCheckpoint = rerankerCheckpoint
        self.passages = passages
        self.shard = shard
    }
}
