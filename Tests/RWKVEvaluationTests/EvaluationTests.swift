import Foundation
import Testing
import RWKVEvaluation
import RWKVTestSupport

/// Loading BEIR files, the trec_eval metrics on hand-checked cases, and the TREC run format.
@Suite struct EvaluationTests {
    @Test func loadsTheBEIRLayout() throws {
        let temporary = try TemporaryDirectory(), dir = temporary.url
        defer { temporary.cleanUp() }
        let synthetic = SyntheticBEIR(documents: 50, queries: 10)
        try synthetic.write(to: dir)
        let data = try BEIRDataset.load(directory: dir)
        #expect(data.corpus.count == 50)
        #expect(data.queries.count == 11)
        #expect(data.judgedQueries.count == 10)   // "unjudged" has no qrels
        #expect(data.qrels.judgements.values.map(\.count).reduce(0, +) == synthetic.qrels.count)
        #expect(data.corpus[0].indexedText == "Title 0 " + synthetic.corpus[0].text)
        #expect(data.corpus[1].indexedText == synthetic.corpus[1].text)
    }

    @Test func badLinesAreNamed() throws {
        let temporary = try TemporaryDirectory(), dir = temporary.url
        defer { temporary.cleanUp() }
        func write(_ name: String, _ text: String) throws -> URL {
            let u = dir.appendingPathComponent(name)
            try Data(text.utf8).write(to: u)
            return u
        }
        let good = try write("q.jsonl", #"{"_id": "q1", "text": "x"}"# + "\n")
        let qrels = try write("qrels.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\n")
        let badCorpus = try write("c.jsonl", #"{"_id": "d1", "text": "a"}"# + "\n\n" + #"{"_id": "d2"}"# + "\n")
        #expect(throws: EvaluationError.badLine(file: badCorpus.path, line: 3, reason: "missing or non-string \"text\"")) {
            try BEIRDataset.load(corpus: badCorpus, queries: good, qrels: qrels)
        }
        let notJSON = try write("c2.jsonl", #"{"_id": "d1", "text": "a"}"# + "\nnot json\n")
        #expect(throws: EvaluationError.badLine(file: notJSON.path, line: 2, reason: "not a JSON object")) {
            try BEIRDataset.load(corpus: notJSON, queries: good, qrels: qrels)
        }
        let dup = try write("c3.jsonl", #"{"_id": "d1", "text": "a"}"# + "\n" + #"{"_id": "d1", "text": "b"}"# + "\n")
        #expect(throws: EvaluationError.badLine(file: dup.path, line: 2, reason: "duplicate document id d1")) {
            try BEIRDataset.load(corpus: dup, queries: good, qrels: qrels)
        }
        let badQrels = try write("bad.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\thigh\n")
        #expect(throws: EvaluationError.badLine(file: badQrels.path, line: 3, reason: "score \"high\" is not a number")) {
            try Qrels.load(badQrels)
        }
        // NanoBEIR: two columns, every pair relevant.
        let nano = try write("nano.tsv", "query-id\tcorpus-id\nq1\td1\nq2\td9\n")
        #expect(try Qrels.load(nano) == Qrels(["q1": ["d1": 1], "q2": ["d9": 1]]))
        #expect(throws: EvaluationError.missingFile(dir.appendingPathComponent("none.jsonl").path)) {
            try BEIRDataset.load(corpus: dir.appendingPathComponent("none.jsonl"), queries: good, qrels: qrels)
        }
    }

    @Test func metricsOnAHandCheckedQuery() {
        // Relevant: a (2), b (1), c (1, not retrieved); x judged 0; y unjudged.
        let judgements = ["a": 2, "b": 1, "c": 1, "x": 0]
        let run: [(document: String, score: Double)] = [("x", 0.9), ("a", 0.8), ("y", 0.7), ("b", 0.6)]
        let m = TrecMetrics.evaluate(run: run, judgements: judgements)
        let dcg = 2 / log2(3.0) + 1 / log2(5.0)
        let ideal = 2 / log2(2.0) + 1 / log2(3.0) + 1 / log2(4.0)
        #expect(abs(m.ndcg10 - dcg / ideal) < 1e-12)
        #expect(m.mrr10 == 0.5)
        #expect(abs(m.recall100 - 2.0 / 3) < 1e-12)
        #expect(abs(m.map - (1.0 / 2 + 2.0 / 4) / 3) < 1e-12)
        // No relevant document: all zero. Nothing retrieved: all zero.
        #expect(TrecMetrics.evaluate(run: run, judgements: ["x": 0]) == QueryMetrics(ndcg10: 0, mrr10: 0, recall100: 0, map: 0))
        #expect(TrecMetrics.evaluate(run: [], judgements: judgements) == QueryMetrics(ndcg10: 0, mrr10: 0, recall100: 0, map: 0))
    }

    @Test func tiesAreBrokenByDocumentIdDescendingAsTrecEval() {
        let run: [(document: String, score: Double)] = [("d1", 1), ("d3", 1), ("d2", 1), ("d0", 2)]
        #expect(TrecMetrics.sorted(run).map(\.document) == ["d0", "d3", "d2", "d1"])
        // So a relevant d1 tied with others ranks last among them.
        #expect(TrecMetrics.evaluate(run: run, judgements: ["d1": 1]).mrr10 == 0.25)
        #expect(TrecMetrics.evaluate(run: run, judgements: ["d3": 1]).mrr10 == 0.5)
    }

    @Test func cutoffsAt10And100() {
        let run = (0..<150).map { (document: "d\($0)", score: Double(1000 - $0)) }
        let m = TrecMetrics.evaluate(run: run, judgements: ["d10": 1, "d120": 1])
        #expect(m.mrr10 == 0)          // rank 11 is past the cutoff
        #expect(m.ndcg10 == 0)
        #expect(m.recall100 == 0.5)    // d120 is past 100
        #expect(abs(m.map - (1.0 / 11 + 2.0 / 121) / 2) < 1e-12)
    }

    @Test func termMatchingScoresFarAboveChanceOnTheSyntheticSet() {
        let s = SyntheticBEIR()
        let qrels = Qrels(Dictionary(grouping: s.qrels, by: \.query).mapValues { Dictionary(uniqueKeysWithValues: $0.map { ($0.document, $0.score) }) })
        var matching: [String: [(document: String, score: Double)]] = [:]
        var unrelated: [String: [(document: String, score: Double)]] = [:]
        for q in s.queries {
            let words = Set(q.text.split(separator: " "))
            matching[q.id] = s.corpus.map { d in (d.id, Double(d.text.split(separator: " ").filter { words.contains($0) && $0.hasPrefix("zq") }.count)) }
            unrelated[q.id] = s.corpus.map { d in (d.id, Double((d.id.hashValue & 0xffff) ^ q.id.count)) }
        }
        let good = TrecMetrics.mean(TrecMetrics.evaluate(runs: matching, qrels: qrels).values)
        let chance = TrecMetrics.mean(TrecMetrics.evaluate(runs: unrelated, qrels: qrels).values)
        #expect(good.ndcg10 > 0.9)
        #expect(chance.ndcg10 < 0.2)
    }

    @Test func runFilesRoundTrip() throws {
        let temporary = try TemporaryDirectory(), dir = temporary.url
        defer { temporary.cleanUp() }
        let runs: [String: [(document: String, score: Double)]] = ["q1": [("a", 0.5), ("b", 0.75)], "q2": [("c", -1)]]
        let lines = TrecRun.lines(runs, tag: "dense", queryOrder: ["q2", "q1", "q3"])
        #expect(lines == ["q2 Q0 c 1 -1.0 dense", "q1 Q0 b 1 0.75 dense", "q1 Q0 a 2 0.5 dense"])
        let file = dir.appendingPathComponent("run.txt")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: file)
        let back = try TrecRun.read(file)
        #expect(back.keys.sorted() == ["dense"])
        #expect(back["dense"]!["q1"]!.map(\.document) == ["b", "a"])
        #expect(back["dense"]!["q2"]!.map(\.score) == [-1])
        try Data("q1 Q0 a 1\n".utf8).write(to: file)
        #expect(throws: EvaluationError.self) { try TrecRun.read(file) }
    }
}
