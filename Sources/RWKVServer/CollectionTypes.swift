import RWKVRetrieval

/// Request and response bodies of the collection routes.

struct CreateCollectionRequest: Decodable, Sendable {
    var name: String
    /// fp32, fp16 (default) or another precision the store supports.
    var state_precision: String?
    /// single (default) or paper.
    var `protocol`: String?
    var ann: ANNRequest?
    /// Which passages keep a cached state: all (default), none or first:N.
    var states: String?
}

/// The ANN settings fields of create/add (absent fields keep the collection's values).
struct ANNRequest: Decodable, Sendable {
    var kind: String?
    var m: Int?
    var ef_construction: Int?
    var ef_search: Int?
    var threshold: Int?
    /// int8 / binary: candidates rescored per hit wanted.
    var oversample: Int?
}

/// The index part of CollectionInfo.
struct ANNInfo: Encodable, Sendable {
    var kind: String
    var settings: [String: String]
    var elements: Int
    var deleted: Int
    var memory_bytes: Int
    var file_bytes: Int
    var file: String?
}

struct CollectionInfo: Encodable, Sendable {
    var name: String
    var documents: Int
    var documents_with_state: Int
    var passages_with_state: Int
    /// Which passages keep a cached state: all, none or first:N.
    var states: String
    var dimension: Int
    var state_layers: Int
    var state_precision: String
    var `protocol`: String
    var embedding_tokens: Int
    var state_tokens: Int
    var file_bytes: [String: Int]
    var passages: Int
    var format_version: Int
    /// Segment bytes of replaced or deleted documents (what compaction reclaims).
    var dead_bytes: Int
    var sqlite_bytes: Int
    var ann: ANNInfo?
    /// The weight precision the stored embeddings and states were computed in (null: not recorded).
    @NullWhenAbsent var weight_precision: String?
    /// Set when this server's models compute in another precision (adds and searches still work,
    /// within each precision's bound of fp32; the CLI prints the same words as a `note:`).
    @NullWhenAbsent var weight_precision_mismatch: String?
}

struct CollectionList: Encodable, Sendable {
    var collections: [CollectionInfo]
}

struct DocumentInput: Decodable, Sendable {
    var id: String?
    var text: String
    var metadata: JSONValue?
}

struct AddDocumentsRequest: Decodable, Sendable {
    var documents: [DocumentInput]
    /// Compute and cache reranker states (default true: for the passages the collection's `states` names).
    var store_states: Bool?
    var ann: ANNRequest?
    /// Changes the collection's state retention (all, none or first:N) before these documents are added.
    var states: String?
}

struct ReplaceDocumentRequest: Decodable, Sendable {
    var text: String
    var metadata: JSONValue?
    var store_states: Bool?
}

struct AddDocumentsResponse: Encodable, Sendable {
    struct Item: Encodable, Sendable {
        var id: String
        var outcome: String
        var tokens: Int
    }
    var collection: String
    var results: [Item]
    /// Always true: the response is sent after the documents are on disk (fsync).
    var durable = true
}

struct DeleteDocumentsRequest: Decodable, Sendable {
    var ids: [String]?
    /// A metadata filter: delete the documents it matches.
    var filter: JSONValue?
}

struct DeleteDocumentsResponse: Encodable, Sendable {
    var collection: String
    var deleted: [String]
}

struct DocumentResponse: Encodable, Sendable {
    var id: String
    var text: String
    var metadata: JSONValue?
}

struct DocumentListResponse: Encodable, Sendable {
    var collection: String
    var documents: [DocumentListItem]
}

struct SearchRequest: Decodable, Sendable {
    var query: String
    var top_k: Int?
    var candidates: Int?
    var rerank: Bool?
    var instruction: String?
    /// dense, lexical or hybrid (default).
    var mode: String?
    /// A metadata filter (the filter language of `--where`).
    var filter: JSONValue?
    /// true (default): the best passage per document; false: passages.
    var group: Bool?
    /// Force the exact scan for the dense stage.
    var exact: Bool?
}

struct CompactRequest: Decodable, Sendable {
    /// Rewrite every segment, not only those with dead bytes.
    var all: Bool?
}

struct CompactResponse: Encodable, Sendable {
    var collection: String
    var passages_moved: Int
    var bytes_copied: Int
    var segments_before: Int
    var segments_after: Int
    var bytes_before: Int
    var bytes_after: Int
    var seconds: Double
}

struct CollectionRerankRequest: Decodable, Sendable {
    var query: String
    /// Document ids (each scored by its best passage) ...
    var ids: [String]?
    /// ... or passage ids (`passage_id` of search hits).
    var passages: [Int64]?
}

struct CollectionRerankResponse: Encodable, Sendable {
    struct Score: Encodable, Sendable {
        var id: String?
        var passage_id: Int64?
        /// Sigmoid of the logit; absent for unknown ids.
        var score: Float?
        var logit: Float?
        var rerank_mode: String?
    }
    var collection: String
    var results: [Score]
    var online_fallbacks: Int
    var damaged: [Int64]
    var state_load_ms: Double
    var rerank_ms: Double
}
