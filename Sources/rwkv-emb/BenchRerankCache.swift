import ArgumentParser
import EmbeddingRWKV
import Foundation
import RWKVRetrieval

/// `rwkv-emb bench rerank-cache`: the paper's Table 8 on CPU: online reranking (document + query read in
/// full) against offline reranking from states cached in a collection (reading them included).
struct BenchRerankCache: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rerank-cache",
        abstract: "Online vs offline (cached-state) reranking time per document length (paper Table 8).",
        discussion: """
            One query of --query-tokens tokens against --documents documents of each length, on a random-weight \
            Tiny-shape model (12 x 768; reranker reading layers 2, 5, 8, 11). Offline time includes decoding the \
            states from the collection. Ideal speedup = (document + query tokens) / (query tokens), in the \
            tokens the two passes actually run.
            """)

    @Option(help: "Candidate documents per length (the paper uses 100).")
    var documents: Int = 100

    @Option(help: "Document lengths in tokens (comma separated).")
    var lengths: String = "512,1024,2048,4096"

    @Option(help: "Query length in tokens.")
    var queryTokens: Int = 64

    @Option(help: "State precision of the collection.")
    var precision: StatePrecision = .fp16

    @Option(help: "Timed repetitions of each pass, interleaved online/offline (the best of each is reported).")
    var iterations: Int = 3

    @OptionGroup var shape: RandomModelShape

    func run() async throws {
        RetrievalBench.debugNote()
        let lengthList = lengths.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !lengthList.isEmpty, documents >= 1, queryTokens >= 2 else { throw ValidationError("bad --lengths/--documents/--query-tokens") }
        let models = try shape.models()
        let tokenizer = models.tokenizer
        let query = try RetrievalBench.texts(count: 1, tokens: queryTokens - 3, tokenizer: tokenizer, seed: 99)[0]
        let qTokens = models.reranker.queryTokens(query).count
        print("model: \(shape.description), reranker layers \(models.fingerprint.rerankerLayerIndices); states \(precision.rawValue), layers 0..<\(models.stateLayers)")
        print("query: \(qTokens) tokens (\"Query: ...\" + EOS); \(documents) documents per length")
        print("length  online s   offline s (load s)   speedup   ideal   % of ideal   max |logit online - offline|")
        var worst = Double.infinity
        try RetrievalBench.withTemporaryDirectory { dir in
            for (n, length) in lengthList.enumerated() {
                let texts = try RetrievalBench.texts(count: documents, tokens: length, tokenizer: tokenizer, seed: UInt64(length))
                let collection = try DocumentCollection.create(at: dir.appendingPathComponent("c\(n)"), models: models,
                                                               configuration: .init(statePrecision: precision, passages: .init(split: false)))
                let docs = texts.enumerated().map { Document(id: "d\($0.offset)", text: $0.element) }
                try collection.add(docs, options: .init(batchDocuments: 8, batchTokens: 1 << 30))
                let ids = docs.map(\.id)
                // Tokens each way: the online pass reads template + document + query; offline only the query.
                let onlineTokens = texts.map { models.reranker.onlineTokens(query: query, document: $0).count }
                let meanOnline = Double(onlineTokens.reduce(0, +)) / Double(documents)
                let ideal = meanOnline / Double(qTokens)
                var onlineTime = Double.infinity, offlineTime = Double.infinity, load = 0.0
                var online: [Float] = [], offline: [Float] = []
                for _ in 0..<max(1, iterations) {
                    onlineTime = min(onlineTime, try RetrievalBench.time {
                        online = try models.reranker.rerankOnline(query: query, documents: texts).map(\.logit)
                    })
                    var result: RerankResult?
                    let t = try RetrievalBench.time { result = try collection.rerank(query, ids: ids, batchSize: 16) }
                    if t < offlineTime { offlineTime = t; load = result?.stateLoadSeconds ?? 0 }
                    offline = result?.scores.map { $0?.score.logit ?? .nan } ?? []
                }
                let drift = zip(online, offline).map { abs($0 - $1) }.max() ?? .nan
                let speedup = onlineTime / offlineTime
                worst = min(worst, speedup / ideal)
                print(String(format: "%6d  %8.2f   %8.3f (%6.3f)   %7.1fx  %6.1fx   %5.1f%%     %.1e",
                             length, onlineTime, offlineTime, load, speedup, ideal, 100 * speedup / ideal, drift))
            }
        }
        print(String(format: "worst: %.1f%% of the ideal ratio (goal >= 80%%)", 100 * worst))
    }
}
