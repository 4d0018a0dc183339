import Foundation
import Testing
import RWKVTestSupport

/// `rwkv-emb eval` end to end as a child process, on the synthetic BEIR set with the random-weight test model.
@Suite(.serialized) struct EvalCommandTests {

    @Test func evaluatesEveryStageWritesARunAndReusesTheCollection() async throws {
        let dir = try TemporaryDirectory()
        let data = dir.path("data")
        try SyntheticBEIR(documents: 80, queries: 12).write(to: data)
        let col = dir.path("col").path, run = dir.path("run.txt").path
        var r = try await runCLI(["eval", "--data", data.path, "--collection", col, "--model", Fixtures.tinyModelPath, "--reranker", Fixtures.tinyRerankerPath,
                            "--depth", "10", "--stages", "dense,lexical,hybrid,hybrid+rerank", "--run", run, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("progress: dense: 12/12 queries"), "\(r.stderr)")
        #expect(r.stderr.contains("progress: 80/80 documents"), "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let stages = try #require(object["stages"] as? [[String: Any]])
        #expect(stages.map { $0["stage"] as? String } == ["dense", "lexical", "hybrid", "hybrid+rerank"])
        // The model's weights are random, but BM25 is not: the rare words queries share with their
        // relevant documents put lexical search far above a random ranking (NDCG@10 about 0.1 here).
        let lexicalNDCG = try #require(stages[1]["ndcg@10"] as? Double)
        #expect(lexicalNDCG > 0.5, "lexical NDCG@10 \(lexicalNDCG)")
        #expect(object["queries"] as? Int == 12 && object["documents"] as? Int == 80)
        for s in stages {
            for key in ["ndcg@10", "mrr@10", "recall@100", "map"] {
                let v = try #require(s[key] as? Double)
                #expect(v >= 0 && v <= 1, "\(key) \(v)")
            }
            #expect(s["queries"] as? Int == 12)
            #expect(((s["latency"] as? [String: Any])?["mean_ms"] as? Double ?? 0) > 0)
        }
        // The run file: 10 documents per query and stage, in rank order; scoring it gives the same metrics.
        let lines = try String(contentsOfFile: run, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4 * 12 * 10)
        #expect(lines[0].split(separator: " ").count == 6 && lines[0].hasSuffix(" dense") && lines[0].contains(" Q0 "))
        r = try await runCLI(["eval", "--score-run", run, "--data", data.path, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let rescored = try #require((try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["stages"] as? [[String: Any]])
        // One row per tag in the run file (in tag order, not the run's): matched by stage name.
        #expect(Set(rescored.compactMap { $0["stage"] as? String }) == Set(stages.compactMap { $0["stage"] as? String }))
        for a in stages {
            let b = try #require(rescored.first { $0["stage"] as? String == a["stage"] as? String })
            for key in ["ndcg@10", "mrr@10", "recall@100", "map"] {
                #expect(abs((a[key] as? Double ?? -1) - (b[key] as? Double ?? -2)) < 1e-9, "\(key)")
            }
        }
        // Reused: the second run indexes nothing new, and the table for humans has every stage and metric.
        r = try await runCLI(["eval", "--data", data.path, "--collection", col, "--depth", "10", "--stages", "dense"])
        #expect(r.status == 0, "\(r.stderr)")
        for label in ["NDCG@10", "MRR@10", "Recall@100", "MAP", "mean ms", "dense"] { #expect(r.stdout.contains(label), "\(r.stdout)") }
        #expect(!r.stdout.contains("dense+rerank"))
    }

    @Test func clearErrors() async throws {
        let dir = try TemporaryDirectory()
        var r = try await runCLI(["eval", "--corpus", dir.path("c.jsonl").path])
        #expect(r.status != 0 && r.stderr.contains("--queries and --qrels"), "\(r.stderr)")
        try dir.write("data/corpus.jsonl", #"{"_id": "d1", "text": "a"}"# + "\n" + #"{"_id": 5}"# + "\n")
        try dir.write("data/queries.jsonl", #"{"_id": "q1", "text": "a"}"# + "\n")
        try dir.write("data/qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\n")
        r = try await runCLI(["eval", "--data", dir.path("data").path, "--model", Fixtures.tinyModelPath, "--reranker", Fixtures.tinyRerankerPath])
        #expect(r.status != 0 && r.stderr.contains("corpus.jsonl:2: missing or non-string \"text\""), "\(r.stderr)")
        r = try await runCLI(["eval", "--data", dir.path("data").path, "--stages", "dense,sparse"])
        #expect(r.status != 0 && r.stderr.contains("unknown stage sparse"), "\(r.stderr)")
    }
}
