import EmbeddingRWKV

/// Which candidate lists a search draws from before reranking.
public enum SearchMode: String, Sendable, CaseIterable, Codable {
    /// Exact cosine over the passage embeddings.
    case dense
    /// BM25 over the passages (SQLite FTS5).
    case lexical
    /// Both lists fused by reciprocal rank fusion (k = 60).
    case hybrid
}

public struct SearchOptions: Sendable {
    /// Results: documents (grouped) or passages.
    public var topK: Int = 10
    /// Passages per candidate list (dense and lexical) that are fused and reranked.
    public var candidates: Int = 50
    public var rerank: Bool = true
    /// Cached states decoded and scored per reranker pass (bounds memory).
    public var rerankBatch: Int = 16
    public var instruction: String = Embedder.defaultInstruction
    public var mode: SearchMode = .hybrid
    /// Only passages of documents whose metadata matches (exact: the top-k among the matching ones).
    public var filter: MetadataFilter?
    /// true: the best passage per document, `topK` documents; false: `topK` passages.
    public var group: Bool = true
    /// Force the exact scan for the dense stage (no ANN index).
    public var exact: Bool = false
    public init(topK: Int = 10, candidates: Int = 50, rerank: Bool = true, rerankBatch: Int = 16,
                instruction: String = Embedder.defaultInstruction, mode: SearchMode = .hybrid,
                filter: MetadataFilter? = nil, group: Bool = true, exact: Bool = false) {
        self.exact = exact
        self.topK = topK
        self.candidates = candidates
        self.rerank = rerank
        self.rerankBatch = rerankBatch
        self.instruction = instruction
        self.mode = mode
        self.filter = filter
        self.group = group
    }
}

/// One result: a passage (with its document), and the score of every stage it went through.
public struct SearchHit: Sendable {
    public enum RerankMode: String, Sendable { case offline, online }
    /// The document's id.
    public var id: String
    /// The passage: its id, index within the document and UTF-8 byte offsets in the document's text.
    public var passageID: Int64
    public var passage: Int
    public var start: Int
    public var end: Int
    /// The passage's text (`document.text.utf8[start..<end]`).
    public var text: String
    public var metadata: String?
    /// Cosine similarity of the query and passage embeddings (nil in lexical mode).
    public var embeddingScore: Float?
    /// BM25 relevance (higher is better; nil: the passage is not a lexical match or the mode is dense).
    public var lexicalScore: Double?
    /// Reciprocal-rank-fusion score (hybrid mode).
    public var fusedScore: Double?
    /// The reranker's logit and sigmoid (nil without reranking).
    public var rerank: RerankScore?
    public var rerankMode: RerankMode?
}

/// Seconds spent in each stage of a search.
public struct SearchTimings: Sendable, Codable {
    public var queryEmbedding: Double = 0
    /// Evaluating the metadata filter (SQLite).
    public var filter: Double = 0
    /// The dense scan.
    public var retrieval: Double = 0
    /// The BM25 query (SQLite FTS5).
    public var lexical: Double = 0
    public var fusion: Double = 0
    public var stateLoad: Double = 0
    public var rerank: Double = 0
    public var total: Double = 0
}

public struct RerankResult: Sendable {
    /// Per requested id: the score and how it was computed (nil: no such document or passage).
    public var scores: [(score: RerankScore, mode: SearchHit.RerankMode)?]
    /// For document ids: the passage whose score is the document's (its best).
    public var passages: [Int64?] = []
    /// Passages reranked online (no cached state).
    public var online: Int
    public var stateLoadSeconds: Double
    public var rerankSeconds: Double
    /// Passages whose stored state failed its checksum (excluded).
    public var damaged: [Int64] = []
}

public struct SearchResult: Sendable {
    public var hits: [SearchHit]
    public var timings: SearchTimings
    public var documentCount: Int
    public var passageCount: Int = 0
    /// Passages that matched the filter (all passages without one).
    public var matchingPassages: Int = 0
    public var candidatesReranked: Int
    public var onlineFallbacks: Int
    /// Passages excluded because a stored state or row failed its checksum.
    public var damaged: [Int64] = []
    /// Which path the dense stage took (nil in lexical mode).
    public var densePath: DensePath? = nil
}

public struct CollectionStats: Sendable {
    public var documents: Int
    public var passages: Int
    public var passagesWithState: Int
    public var documentsWithState: Int
    public var stateTokens: Int
    public var embeddingTokens: Int
    public var textBytes: Int
    public var dimension: Int
    public var stateLayers: Int
    public var statePrecision: StatePrecision
    public var shiftPrecision: String
    public var embeddingBytesPerPassage: Int
    public var stateBytesPerPassage: Int
    /// Bytes on disk per file (`collection.sqlite`, its WAL, each segment).
    public var fileBytes: [String: Int]
    /// The SQLite files' bytes (database + WAL + shared memory).
    public var sqliteBytes: Int
    /// Segment bytes no live passage refers to (replaced or deleted documents): what `compact` reclaims.
    public var deadBytes: Int
    public var segmentBytes: Int
    /// Embedding rows no longer used.
    public var deadRows: Int
    public var model: ModelFingerprint
    /// The ANN index: kind, parameters, elements, bytes in memory and on disk.
    public var ann: ANNStats? = nil
    /// Which passages keep a cached state (`passagesWithState` says how many do).
    public var stateRetention: StateRetention = .all

    public var totalBytes: Int { fileBytes.values.reduce(0, +) }
    /// Bytes on disk per live passage, and SQLite's share of them.
    public var bytesPerPassage: Double { passages > 0 ? Double(totalBytes) / Double(passages) : 0 }
    public var sqliteShare: Double { totalBytes > 0 ? Double(sqliteBytes) / Double(totalBytes) : 0 }
}
