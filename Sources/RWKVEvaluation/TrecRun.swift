import Foundation

/// The TREC run format: `qid Q0 docid rank score tag` per line, the tag naming the system (here the stage).
public enum TrecRun {
    /// Run lines of one stage, each query's ranking in trec_eval's order (rank from 1).
    public static func lines(_ runs: [String: [(document: String, score: Double)]], tag: String, queryOrder: [String]) -> [String] {
        var out: [String] = []
        for query in queryOrder {
            guard let run = runs[query] else { continue }
            for (i, r) in TrecMetrics.sorted(run).enumerated() {
                out.append("\(query) Q0 \(r.document) \(i + 1) \(r.score) \(tag)")
            }
        }
        return out
    }

    /// Reads a run file: tag -> query -> ranking (scores as written; ranks ignored, as trec_eval does).
    public static func read(_ url: URL) throws -> [String: [String: [(document: String, score: Double)]]] {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw EvaluationError.missingFile(url.path) }
        var runs: [String: [String: [(document: String, score: Double)]]] = [:]
        var lineNumber = 0
        for raw in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let f = raw.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            if f.isEmpty { continue }
            guard f.count == 6, let score = Double(f[4]) else {
                throw EvaluationError.badLine(file: url.path, line: lineNumber, reason: "expected `qid Q0 docid rank score tag`")
            }
            runs[f[5], default: [:]][f[0], default: []].append((f[2], score))
        }
        return runs
    }
}
