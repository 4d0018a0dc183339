/// Request and response bodies of the collection routes.

struct CreateCollectionRequest: Decodable, Sendable {
    var name: String
    /// fp32, fp16 (default) or another precision the store supports.
    var state_precision: String?
    /// single (default) or paper.
    var `protocol`: String?
}

struct CollectionInfo: Encodable, Sendable {
    var name: String
    var documents: Int
    var documents_with_state: Int
    var dimension: Int
    var state_layers: Int
    var state_precision: String
    var `protocol`: String
    var embedding_tokens: Int
    var state_tokens: Int
    var file_bytes: [String: Int]
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
    /// Compute and cache reranker states (default true).
    var store_states: Bool?
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
    var ids: [String]
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
    struct Item: Encodable, Sendable {
        var id: String
        var text_bytes: Int
        var embedding_tokens: Int
        var state_tokens: Int
        var has_state: Bool
        var metadata: JSONValue?
    }
    var collection: String
    var documents: [Item]
}

struct SearchRequest: Decodable, Sendable {
    var query: String
    var top_k: Int?
    var candidates: Int?
    var rerank: Bool?
    var instruction: String?
}

struct SearchResponse: Encodable, Sendable {
    struct Hit: Encodable, Sendable {
        var id: String
        var text: String
        var metadata: JSONValue?
        /// Cosine similarity of query and document embeddings.
        var embedding_score: Float
        /// Sigmoid of the reranker logit (nil without reranking).
        var rerank_score: Float?
        var rerank_logit: Float?
        /// offline (from the cached state) or online.
        var rerank_mode: String?
    }
    /// Stage timings in milliseconds.
    struct Timings: Encodable, Sendable {
        var query_embedding_ms: Double
        var retrieval_ms: Double
        var state_load_ms: Double
        var rerank_ms: Double
        var search_ms: Double
        var queue_ms: Double
        var total_ms: Double
    }
    var collection: String
    var hits: [Hit]
    var documents: Int
    var candidates_reranked: Int
    var online_fallbacks: Int
    var timings: Timings
}
