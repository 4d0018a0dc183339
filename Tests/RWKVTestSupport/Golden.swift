/// `golden.json`: the reference outputs for one fixture model (all floats are float64 values
/// computed by the reference implementation). Field meanings: `Tests/Fixtures/README.md`.
public struct Golden: Decodable, Sendable {
    public let nLayer: Int
    public let nEmbd: Int
    public let headSize: Int
    public let eos: Int
    /// nil when the reranker checkpoint carries no `reranker_layer_idx` (then layers 0..n-1).
    public let rerankerLayerIdx: [Int]?
    public let tokenize: [Tokenized]
    public let embed: [Embedded]
    public let embedPaddedBatch: PaddedBatch
    public let splitPass: SplitPass
    public let rerankOnline: [OnlineRerank]
    public let rerankOffline: [OfflineRerank]
    public let rerankOfflineBatch: OfflineRerankBatch

    enum CodingKeys: String, CodingKey {
        case nLayer = "n_layer", nEmbd = "n_embd", headSize = "head_size", eos
        case rerankerLayerIdx = "reranker_layer_idx", tokenize, embed
        case embedPaddedBatch = "embed_padded_batch", splitPass = "split_pass"
        case rerankOnline = "rerank_online", rerankOffline = "rerank_offline"
        case rerankOfflineBatch = "rerank_offline_batch"
    }

    public struct Tokenized: Decodable, Sendable {
        public let text: String
        /// Token ids without EOS.
        public let ids: [Int]
    }

    public struct Embedded: Decodable, Sendable {
        public let text: String
        /// Token ids with one trailing EOS.
        public let ids: [Int]
        public let retr: [Double]
        public let sts: [Double]
        public let cls: [Double]
        /// Flattened [L][2][C]: index 0 the time-mix input, 1 the channel-mix input.
        public let stateShift: [Double]
        /// Flattened [L][H][64][64], [layer][head][value row i][key column j]; short texts only.
        public let stateWkv: [Double]?
        public let stateWkvSum: Double
        public let stateWkvAbsmax: Double

        enum CodingKeys: String, CodingKey {
            case text, ids, retr = "[RETR]", sts = "[STS]", cls = "[CLS]"
            case stateShift = "state_shift", stateWkv = "state_wkv"
            case stateWkvSum = "state_wkv_sum", stateWkvAbsmax = "state_wkv_absmax"
        }
    }

    public struct PaddedBatch: Decodable, Sendable {
        /// Left-padded with token 0 to one length.
        public let ids: [[Int]]
        public let embeddings: [[Double]]
    }

    public struct SplitPass: Decodable, Sendable {
        public let ids: [Int]
        /// Cut positions: pieces are ids[0..<cuts[0]], ids[cuts[0]..<cuts[1]], ids[cuts[1]...].
        public let cuts: [Int]
        public let embedding: [Double]
    }

    public struct OnlineRerank: Decodable, Sendable {
        public let query: String
        public let document: String
        public let ids: [Int]
        public let logit: Double
        public let score: Double
    }

    public struct OfflineRerank: Decodable, Sendable {
        public let query: String
        public let document: String
        public let docIds: [Int]
        public let queryIds: [Int]
        public let logit: Double
        public let score: Double

        enum CodingKeys: String, CodingKey {
            case query, document, docIds = "doc_ids", queryIds = "query_ids", logit, score
        }
    }

    public struct OfflineRerankBatch: Decodable, Sendable {
        public let query: String
        public let logits: [Double]
    }
}
