import RWKVRetrieval

/// One way of ranking the corpus for a query, measured on its own. The list `all` is the one place
/// stages are defined: adding one (issue 10's `lexical`, `hybrid` and their reranked variants, once
/// `SearchOptions` has a mode) is one line there.
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
        EvaluationStage(name: "dense", reranked: false) { SearchOptions(topK: $0, candidates: $0, rerank: false, instruction: $1) },
        EvaluationStage(name: "dense+rerank", reranked: true) { SearchOptions(topK: $0, candidates: $0, rerank: true, instruction: $1) },
        // EvaluationStage(name: "lexical", reranked: false) { SearchOptions(topK: $0, candidates: $0, rerank: false, mode: .lexical, instruction: $1) },
    ]

    public static func named(_ name: String) -> EvaluationStage? { all.first { $0.name == name } }
}
