import ArgumentParser
import EmbeddingRWKV
import Foundation
import RWKVRetrieval

/// `rwkv-emb rerank`: scores documents for a query with the state-based reranker, as JSON.
struct Rerank: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score documents (arguments, or JSONL {\"text\": ...} lines on stdin) for a query.")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: ArgumentHelp(ModelLocator.rerankerHelp, valueName: "reranker"))
    var reranker: String?

    @Option(help: "The query.")
    var query: String

    @Flag(help: "Cache each document's state first, then run only the query on top (the offline path).")
    var offline = false

    @Argument(help: "Documents to score (default: JSONL on stdin).")
    var documents: [String] = []

    struct Result: Encodable {
        let document: String
        let logit: Float
        let score: Float
    }

    struct Output: Encodable {
        let query: String
        let mode: String
        let results: [Result]
    }

    func run() async throws {
        let docs = try readTexts(documents)
        let files = try await ModelLocator.pair(model: modelOptions.model, reranker: reranker)
        let pipeline = try RetrievalModels.load(embedding: files.embedding, reranker: files.reranker,
                                                precision: modelOptions.resolvedPrecision).reranker
        let scores: [RerankScore]
        if offline {
            let states = try pipeline.documentStates(for: docs)
            scores = try pipeline.rerankOffline(query: query, documentStates: states)
        } else {
            scores = try pipeline.rerankOnline(query: query, documents: docs)
        }
        try printJSON(Output(query: query, mode: offline ? "offline" : "online",
                             results: zip(docs, scores).map { Result(document: $0, logit: $1.logit, score: $1.score) }))
    }
}
