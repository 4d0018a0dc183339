import ArgumentParser
import Foundation
import RWKVRetrieval

/// `rwkv-emb search`: dense and/or BM25 candidates, reranked from their cached states.
struct Search: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search a collection: dense (cosine) and/or lexical (BM25) candidates, reranked from their cached states.")

    @OptionGroup var collectionOptions: CollectionOptions

    // Defaults: the library's (`SearchOptions`).
    @Option(help: "Results to print (documents, or passages with --no-group).")
    var topK: Int = SearchOptions().topK

    @Option(help: "Candidates per list (dense, lexical) to fuse and rerank.")
    var candidates: Int = SearchOptions().candidates

    @Option(help: "Candidate lists: dense, lexical or hybrid (both, fused by reciprocal rank).")
    var mode: SearchMode = SearchOptions().mode

    @Option(name: .customLong("where"), help: ArgumentHelp("Only documents whose metadata matches this filter (JSON).", valueName: "json"))
    var filter: String?

    @Flag(help: "Return passages, not the best passage per document.")
    var noGroup = false

    @Flag(help: "Order by the candidate stage only (no reranking).")
    var noRerank = false

    @Flag(help: "Force the exact scan for the dense stage (no ANN index).")
    var exact = false

    @Flag(help: "Print JSON.")
    var json = false

    @Option(help: "Characters of text shown per result.")
    var snippet: Int = 160

    @Argument(help: "The question.")
    var query: String

    func validate() throws {
        guard topK >= 1, candidates >= 1 else { throw ValidationError("--top-k and --candidates must be at least 1") }
    }

    func run() async throws {
        let filter = try parseFilter(self.filter)
        let collection = try await collectionOptions.open(needsModels: mode != .lexical || !noRerank)
        let result = try collection.search(query, options: .init(topK: topK, candidates: candidates, rerank: !noRerank,
                                                                 mode: mode, filter: filter, group: !noGroup, exact: exact))
        let t = result.timings
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(SearchOutput(result, mode: mode, query: query)), as: UTF8.self))
            return
        }
        if result.hits.isEmpty { print("no documents") }
        for (i, h) in result.hits.enumerated() {
            var line = "\(i + 1). \(h.id) #\(h.passage) [\(h.start)..<\(h.end)]"
            if let r = h.rerank {
                line += String(format: "  rerank %.4f (logit %.3f%@)", r.score, r.logit, h.rerankMode == .online ? ", online" : "")
            }
            if let s = h.embeddingScore { line += String(format: "  cosine %.4f", s) }
            if let s = h.lexicalScore { line += String(format: "  bm25 %.3f", s) }
            print(line)
            let flat = h.text.split(whereSeparator: \.isNewline).joined(separator: " ")
            print("    " + (flat.count > snippet ? String(flat.prefix(snippet)) + "..." : flat))
        }
        print(String(format: "time: query embedding %.1f ms, filter %.2f ms, retrieval %.2f ms, lexical %.2f ms, state load %.1f ms, rerank %.1f ms, total %.1f ms (%d candidates of %d passages in %d documents, %d online; dense path %@)",
                     t.queryEmbedding * 1000, t.filter * 1000, t.retrieval * 1000, t.lexical * 1000, t.stateLoad * 1000, t.rerank * 1000,
                     t.total * 1000, result.candidatesReranked, result.passageCount, result.documentCount, result.onlineFallbacks,
                     result.densePath?.rawValue ?? "none"))
    }
}

extension SearchMode: ExpressibleByArgument {}
