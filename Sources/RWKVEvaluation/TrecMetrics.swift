import Foundation

/// The metrics of `trec_eval` (and so of `pytrec_eval`, which wraps its code), computed the same way:
/// the run of a query is sorted by score descending, ties by document id descending (trec_eval's
/// `comp_sim_docno`; the ranks written in a run file are ignored); a document is relevant when its
/// judged relevance is >= 1; unjudged documents count as not relevant.
public struct QueryMetrics: Sendable, Equatable, Codable {
    /// trec_eval `ndcg_cut_10`: gain = relevance, discount log2(rank + 1), over the top 10; the ideal
    /// ranking is the judged relevances sorted descending; 0 when the query has no relevant document.
    public var ndcg10: Double
    /// trec_eval `recip_rank` over the top 10: 1 / rank of the first relevant document, else 0.
    public var mrr10: Double
    /// trec_eval `recall_100`: relevant documents in the top 100 / relevant documents.
    public var recall100: Double
    /// trec_eval `map`: mean over the relevant documents of the precision at their rank (0 when not retrieved).
    public var map: Double

    public init(ndcg10: Double, mrr10: Double, recall100: Double, map: Double) {
        self.ndcg10 = ndcg10
        self.mrr10 = mrr10
        self.recall100 = recall100
        self.map = map
    }

    enum CodingKeys: String, CodingKey { case ndcg10 = "ndcg@10", mrr10 = "mrr@10", recall100 = "recall@100", map }
}

public enum TrecMetrics {
    /// A query's ranking in trec_eval's order.
    public static func sorted(_ run: [(document: String, score: Double)]) -> [(document: String, score: Double)] {
        run.sorted { a, b in
            if a.score != b.score { return a.score > b.score }
            return b.document.utf8.lexicographicallyPrecedes(a.document.utf8)   // docid descending (strcmp)
        }
    }

    /// The metrics of one query. `judgements`: document id -> relevance for this query.
    public static func evaluate(run: [(document: String, score: Double)], judgements: [String: Int]) -> QueryMetrics {
        let ranked = sorted(run)
        let relevances = ranked.map { judgements[$0.document] ?? 0 }
        let relevantCount = judgements.values.filter { $0 >= 1 }.count

        var dcg = 0.0
        for (i, rel) in relevances.prefix(10).enumerated() where rel > 0 { dcg += Double(rel) / log2(Double(i + 2)) }
        var ideal = 0.0
        for (i, rel) in judgements.values.filter({ $0 > 0 }).sorted(by: >).prefix(10).enumerated() {
            ideal += Double(rel) / log2(Double(i + 2))
        }
        let ndcg = ideal > 0 ? dcg / ideal : 0

        let firstRelevant = relevances.prefix(10).firstIndex { $0 >= 1 }
        let mrr = firstRelevant.map { 1.0 / Double($0 + 1) } ?? 0

        let recall = relevantCount > 0 ? Double(relevances.prefix(100).filter { $0 >= 1 }.count) / Double(relevantCount) : 0

        var found = 0
        var precisionSum = 0.0
        for (i, rel) in relevances.enumerated() where rel >= 1 {
            found += 1
            precisionSum += Double(found) / Double(i + 1)
        }
        let map = relevantCount > 0 ? precisionSum / Double(relevantCount) : 0
        return QueryMetrics(ndcg10: ndcg, mrr10: mrr, recall100: recall, map: map)
    }

    /// Every judged query of `runs` (query id -> ranking), plus judged queries missing from `runs`
    /// (scored 0: a query that returned nothing failed), keyed by query id.
    public static func evaluate(runs: [String: [(document: String, score: Double)]], qrels: Qrels) -> [String: QueryMetrics] {
        var out: [String: QueryMetrics] = [:]
        for (query, judgements) in qrels.judgements {
            out[query] = evaluate(run: runs[query] ?? [], judgements: judgements)
        }
        return out
    }

    /// The mean over queries (each query weighs the same), or zeros for none.
    public static func mean(_ metrics: some Collection<QueryMetrics>) -> QueryMetrics {
        guard !metrics.isEmpty else { return QueryMetrics(ndcg10: 0, mrr10: 0, recall100: 0, map: 0) }
        let n = Double(metrics.count)
        return QueryMetrics(ndcg10: metrics.map(\.ndcg10).reduce(0, +) / n, mrr10: metrics.map(\.mrr10).reduce(0, +) / n,
                            recall100: metrics.map(\.recall100).reduce(0, +) / n, map: metrics.map(\.map).reduce(0, +) / n)
    }
}
