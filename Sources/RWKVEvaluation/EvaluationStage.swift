import RWKVRetrieval

/// One way of ranking the corpus for a query, measured on its own. The list `all` is the one place
/// stages are defined: adding one is one line there.
public struct EvaluationStage: Sendable {
    /// The name in tables, JSON and the run file's tag.
    public let name: String
    /// Whether hits are ordered by the reranker's logit (else by the first-stage score).
    public let reranked: Bool
    /// The search options of the stage for a ranking `depth` long.
    public let options: @Sendable (_ depth: Int, _ instruction: String) -> SearchOptions

    public init(name: String, reranked: Bool, options: @escaping @Sendable (_ depth: Int, _ instruction: String) -> SearchOptions) {
        self.name = name
        self.reranked = reranked
        self.options = options
    }

    public static let all: [EvaluationStage] = [
        stage("dense", .dense, reranked: false), stage("dense+rerank", .dense, reranked: true),
        stage("lexical", .lexical, reranked: false), stage("lexical+rerank", .lexical, reranked: true),
        stage("hybrid", .hybrid, reranked: false), stage("hybrid+rerank", .hybrid, reranked: true),
    ]

    /// A stage searching in `mode` (documents grouped: the best passage per document).
    static func stage(_ name: String, _ mode: SearchMode, reranked: Bool) -> EvaluationStage {
        EvaluationStage(name: name, reranked: reranked) {
            SearchOptions(topK: $0, candidates: $0, rerank: reranked, instruction: $1, mode: mode)
        }
    }

    /// The score a hit is ranked by in this stage: the reranker's logit, else the first stage's score.
    func score(of hit: SearchHit) -> Double {
        if reranked { return Double(hit.rerank?.logit ?? -.infinity) }
        return hit.fusedScore ?? hit.lexicalScore ?? hit.embeddingScore.map(Double.init) ?? -.infinity
    }

    public static func named(_ name: String) -> EvaluationStage? { all.first { $0.name == name } }
}
