import Foundation
import RWKVRetrieval

/// Query latency of a stage over all queries, in milliseconds.
public struct LatencySummary: Sendable, Equatable, Codable {
    public var mean: Double
    public var p50: Double
    public var p95: Double

    public init(milliseconds values: [Double]) {
        let s = values.sorted()
        mean = s.isEmpty ? 0 : s.reduce(0, +) / Double(s.count)
        func percentile(_ p: Double) -> Double { s.isEmpty ? 0 : s[min(s.count - 1, Int((p * Double(s.count - 1)).rounded()))] }
        p50 = percentile(0.5)
        p95 = percentile(0.95)
    }

    enum CodingKeys: String, CodingKey { case mean = "mean_ms", p50 = "p50_ms", p95 = "p95_ms" }
}

/// The result of one stage: mean metrics over the judged queries, latency, and the ranking of each query.
public struct StageResult: Sendable {
    public var stage: String
    public var metrics: QueryMetrics
    public var perQuery: [String: QueryMetrics]
    public var latency: LatencySummary
    public var runs: [String: [(document: String, score: Double)]]
}

/// Progress of an evaluation, for a progress bar (the library never prints).
public struct EvaluationProgress: Sendable {
    public var stage: String
    public var queriesDone: Int
    public var queriesTotal: Int
}

/// Indexes a BEIR data set into a collection and measures each stage on it.
public enum Evaluation {
    /// Adds the corpus to `collection` (documents already there and unchanged are skipped, so a
    /// collection is reused across runs); returns how many documents were skipped as empty.
    @discardableResult
    public static func index(_ dataset: BEIRDataset, into collection: DocumentCollection, options: AddOptions = AddOptions(),
                             progress: ((AddProgress) -> Void)? = nil) throws -> Int {
        let documents = dataset.corpus.compactMap { d -> RWKVRetrieval.Document? in
            let text = d.indexedText
            return text.allSatisfy(\.isWhitespace) ? nil : RWKVRetrieval.Document(id: d.id, text: text)
        }
        _ = try collection.add(documents, options: options, progress: progress)
        return dataset.corpus.count - documents.count
    }

    /// Runs every judged query through each stage (`depth` documents per query) and scores the rankings.
    public static func run(_ dataset: BEIRDataset, collection: DocumentCollection, stages: [EvaluationStage],
                           depth: Int = 100, instruction: String,
                           progress: (EvaluationProgress) -> Void = { _ in }) throws -> [StageResult] {
        let queries = dataset.judgedQueries
        var results: [StageResult] = []
        for stage in stages {
            var runs: [String: [(document: String, score: Double)]] = [:]
            var latencies: [Double] = []
            let options = stage.options(depth, instruction)
            for (i, q) in queries.enumerated() {
                let r = try collection.search(q.text, options: options)
                latencies.append(r.timings.total * 1000)
                runs[q.id] = r.hits.map { h in (h.id, stage.score(of: h)) }
                progress(EvaluationProgress(stage: stage.name, queriesDone: i + 1, queriesTotal: queries.count))
            }
            let judged = Qrels(dataset.qrels.judgements.filter { runs[$0.key] != nil })
            let perQuery = TrecMetrics.evaluate(runs: runs, qrels: judged)
            results.append(StageResult(stage: stage.name, metrics: TrecMetrics.mean(perQuery.values), perQuery: perQuery,
                                       latency: LatencySummary(milliseconds: latencies), runs: runs))
        }
        return results
    }
}
