import ArgumentParser
import Foundation
import RWKVRetrieval

/// `rwkv-emb search`: embedding retrieval, then reranking from the cached states.
struct Search: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search a collection: cosine top candidates, reranked from their cached states.")

    @OptionGroup var collectionOptions: CollectionOptions

    @Option(help: "Results to print.")
    var topK: Int = 10

    @Option(help: "Embedding candidates to rerank.")
    var candidates: Int = 50

    @Flag(help: "Order by embedding similarity only.")
    var noRerank = false

    @Flag(help: "Print JSON.")
    var json = false

    @Option(help: "Characters of text shown per result.")
    var snippet: Int = 160

    @Argument(help: "The question.")
    var query: String

    func validate() throws {
        guard topK >= 1, candidates >= 1 else { throw ValidationError("--top-k and --candidates must be at least 1") }
    }

    func run() throws {
        let collection = try collectionOptions.open(needsModels: true)
        let result = try collection.search(query, options: .init(topK: topK, candidates: candidates, rerank: !noRerank))
        let t = result.timings
        if json {
            let hits: [[String: Any]] = result.hits.map { h in
                var o: [String: Any] = ["id": h.id, "embedding_score": Double(h.embeddingScore), "text": h.text]
                if let r = h.rerank {
                    o["rerank_score"] = Double(r.score)
                    o["rerank_logit"] = Double(r.logit)
                    o["rerank_mode"] = h.rerankMode?.rawValue
                }
                if let m = h.metadata, let v = try? JSONSerialization.jsonObject(with: Data(m.utf8)) { o["metadata"] = v }
                return o
            }
            let object: [String: Any] = [
                "query": query, "results": hits, "documents": result.documentCount,
                "candidates_reranked": result.candidatesReranked, "online_fallbacks": result.onlineFallbacks,
                "timings_ms": ["query_embedding": t.queryEmbedding * 1000, "retrieval": t.retrieval * 1000,
                               "state_load": t.stateLoad * 1000, "rerank": t.rerank * 1000, "total": t.total * 1000],
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        if result.hits.isEmpty { print("no documents") }
        for (i, h) in result.hits.enumerated() {
            var line = "\(i + 1). \(h.id)"
            if let r = h.rerank {
                line += String(format: "  rerank %.4f (logit %.3f%@)", r.score, r.logit, h.rerankMode == .online ? ", online" : "")
            }
            line += String(format: "  cosine %.4f", h.embeddingScore)
            print(line)
            let flat = h.text.split(whereSeparator: \.isNewline).joined(separator: " ")
            print("    " + (flat.count > snippet ? String(flat.prefix(snippet)) + "..." : flat))
        }
        print(String(format: "time: query embedding %.1f ms, retrieval %.2f ms, state load %.1f ms, rerank %.1f ms, total %.1f ms (%d candidates of %d documents, %d online)",
                     t.queryEmbedding * 1000, t.retrieval * 1000, t.stateLoad * 1000, t.rerank * 1000, t.total * 1000,
                     result.candidatesReranked, result.documentCount, result.onlineFallbacks))
    }
}
