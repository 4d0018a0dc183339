/// Search results as JSON, one shape for `rwkv-emb search --json` and the server's search route
/// (the field names of the OpenAPI document's `CollectionSearchResponse`).
public struct SearchOutput: Codable, Sendable {
    /// One result: a passage of a document and its scores.
    public struct Hit: Codable, Sendable {
        /// The document's id.
        public var id: String
        /// The passage: index within the document, UTF-8 byte offsets into its text, its id.
        public var passage: Int
        public var start: Int
        public var end: Int
        public var passage_id: Int64
        /// The passage's text.
        public var text: String
        public var metadata: JSONValue?
        /// Cosine similarity of query and passage embeddings (absent in lexical mode).
        public var embedding_score: Float?
        /// BM25 (higher is better), when the passage is a lexical match.
        public var lexical_score: Double?
        /// Reciprocal-rank-fusion score (hybrid mode).
        public var fused_score: Double?
        /// Sigmoid of the reranker logit (nil without reranking).
        public var rerank_score: Float?
        public var rerank_logit: Float?
        /// offline (from the cached state) or online.
        public var rerank_mode: String?

        public init(_ hit: SearchHit) {
            id = hit.id
            passage = hit.passage
            start = hit.start
            end = hit.end
            passage_id = hit.passageID
            text = hit.text
            metadata = hit.metadata.map(JSONValue.init(parsing:))
            embedding_score = hit.embeddingScore
            lexical_score = hit.lexicalScore
            fused_score = hit.fusedScore
            rerank_score = hit.rerank?.score
            rerank_logit = hit.rerank?.logit
            rerank_mode = hit.rerankMode?.rawValue
        }
    }

    /// Stage timings in milliseconds; `queue_ms` and `total_ms` (the whole request) only from the server.
    public struct Timings: Codable, Sendable {
        public var query_embedding_ms: Double
        public var filter_ms: Double
        public var retrieval_ms: Double
        public var lexical_ms: Double
        public var fusion_ms: Double
        public var state_load_ms: Double
        public var rerank_ms: Double
        public var search_ms: Double
        public var queue_ms: Double?
        public var total_ms: Double?

        public init(_ t: SearchTimings, queueMilliseconds: Double? = nil, totalMilliseconds: Double? = nil) {
            query_embedding_ms = t.queryEmbedding * 1000
            filter_ms = t.filter * 1000
            retrieval_ms = t.retrieval * 1000
            lexical_ms = t.lexical * 1000
            fusion_ms = t.fusion * 1000
            state_load_ms = t.stateLoad * 1000
            rerank_ms = t.rerank * 1000
            search_ms = t.total * 1000
            queue_ms = queueMilliseconds
            total_ms = totalMilliseconds
        }
    }

    /// The collection's name (server) or nil.
    public var collection: String?
    /// The query (command line) or nil.
    public var query: String?
    public var mode: String
    public var hits: [Hit]
    public var documents: Int
    public var passages: Int
    public var matching_passages: Int
    public var candidates_reranked: Int
    public var online_fallbacks: Int
    /// Which path the dense stage took (nil in lexical mode).
    public var dense_path: String?
    public var timings: Timings

    public init(_ result: SearchResult, mode: SearchMode, collection: String? = nil, query: String? = nil, timings: Timings? = nil) {
        self.collection = collection
        self.query = query
        self.mode = mode.rawValue
        hits = result.hits.map(Hit.init)
        documents = result.documentCount
        passages = result.passageCount
        matching_passages = result.matchingPassages
        candidates_reranked = result.candidatesReranked
        online_fallbacks = result.onlineFallbacks
        dense_path = result.densePath?.rawValue
        self.timings = timings ?? Timings(result.timings)
    }
}
