import ArgumentParser
import EmbeddingRWKV
import Foundation
import RWKVEvaluation
import RWKVRetrieval
#if canImport(Glibc)
import Glibc
#endif

/// `rwkv-emb eval`: NDCG@10, MRR@10, Recall@100 and MAP of each retrieval stage on a BEIR-layout data set.
struct Eval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure retrieval quality (NDCG@10, MRR@10, Recall@100, MAP, as pytrec_eval) on a BEIR data set.",
        discussion: """
            Data: --data DIR (corpus.jsonl, queries.jsonl, qrels/test.tsv) or --corpus, --queries and --qrels. \
            The corpus is indexed into --collection (reused when it exists: unchanged documents are skipped), \
            then every judged query runs through each stage. --score-run FILE only scores an existing TREC \
            run file against --qrels (no model).
            """
    )

    @Option(help: ArgumentHelp("A BEIR data set folder.", valueName: "dir")) var data: String?
    @Option(help: ArgumentHelp("corpus.jsonl ({\"_id\", \"title\", \"text\"} lines).", valueName: "file")) var corpus: String?
    @Option(help: ArgumentHelp("queries.jsonl ({\"_id\", \"text\"} lines).", valueName: "file")) var queries: String?
    @Option(help: ArgumentHelp("qrels TSV (query-id, corpus-id, score; header line).", valueName: "file")) var qrels: String?
    @Option(help: ArgumentHelp("Collection to build or reuse (default: a temporary one, removed afterwards).", valueName: "dir"))
    var collection: String?
    @Option(help: ArgumentHelp(ModelLocator.modelHelp, valueName: "model")) var model: String?
    @Option(help: ArgumentHelp("Reranker: a file, a directory or a name (default: the one paired with --model).", valueName: "reranker"))
    var reranker: String?
    @Option(help: "Embedding input protocol of a new collection (single|paper: the paper's multi-EOS protocol).")
    var `protocol`: InputProtocol = CollectionConfiguration().inputProtocol
    @Option(help: "State precision of a new collection (fp32|fp16|bf16|int8|int4).")
    var precision: StatePrecision = CollectionConfiguration().statePrecision
    // Not `--precision`: as on `index`, that names the precision of the stored states.
    @Option(name: .customLong("weight-precision"), help: PrecisionChoice.help) var weightPrecision: WeightPrecision = .auto
    @Option(help: "Query instruction (the paper's protocol uses one per task).") var instruction: String = Embedder.defaultInstruction
    @Option(help: ArgumentHelp("Stages to run, comma separated (\(EvaluationStage.all.map(\.name).joined(separator: ", "))).", valueName: "list"))
    var stages: String = EvaluationStage.all.map(\.name).joined(separator: ",")
    @Option(help: "Documents ranked (and reranked) per query.") var depth: Int = 100
    @Option(name: .customLong("run"), help: ArgumentHelp("Write every stage's ranking as TREC run lines (qid Q0 docid rank score stage).", valueName: "file"))
    var runFile: String?
    @Option(help: ArgumentHelp("Score this TREC run file against --qrels instead of searching.", valueName: "file"))
    var scoreRun: String?
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "With --json: include each query's metrics.") var perQuery = false

    func validate() throws {
        guard depth >= 1 else { throw ValidationError("--depth must be at least 1") }
        for name in stageNames where EvaluationStage.named(name) == nil {
            throw ValidationError("unknown stage \(name); stages: \(EvaluationStage.all.map(\.name).joined(separator: ", "))")
        }
        if scoreRun != nil {
            guard qrels != nil || data != nil else { throw ValidationError("--score-run needs --qrels (or --data)") }
        } else if data == nil, corpus == nil || queries == nil || qrels == nil {
            throw ValidationError("give --data DIR, or --corpus, --queries and --qrels")
        }
    }

    var stageNames: [String] { stages.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func run() async throws {
        if let scoreRun { return try score(runFile: scoreRun) }
        let dataset = try data.map { try BEIRDataset.load(directory: URL(fileURLWithPath: $0)) }
            ?? BEIRDataset.load(corpus: URL(fileURLWithPath: corpus!), queries: URL(fileURLWithPath: queries!), qrels: URL(fileURLWithPath: qrels!))
        let judged = dataset.judgedQueries
        guard !judged.isEmpty else { throw CommandLineError("no query in the queries file has judgements in the qrels") }
        printError("eval: \(dataset.corpus.count) documents, \(judged.count) judged queries")

        let temporary = collection == nil
        let url = collection.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("rwkv-emb-eval-\(UUID().uuidString)")
        defer { if temporary { try? FileManager.default.removeItem(at: url) } }
        let manifest = FileManager.default.fileExists(atPath: url.path) ? try? DocumentCollection.readManifest(at: url) : nil
        let files = try await ModelLocator.pair(model: model ?? manifest?.embeddingCheckpoint, reranker: reranker ?? manifest?.rerankerCheckpoint)
        let models = try RetrievalModels.load(embedding: files.embedding, reranker: files.reranker,
                                              precision: PrecisionChoice.resolve(weightPrecision))
        if let manifest, manifest.inputProtocol != `protocol`.rawValue || manifest.statePrecision != precision {
            throw CommandLineError("the collection was built with --protocol \(manifest.inputProtocol) --precision \(manifest.statePrecision.rawValue); use those or another --collection")
        }
        // A configuration only for a new collection: an existing one is reused with its own passage options.
        let col = try DocumentCollection.openOrCreate(
            at: url, models: models,
            configuration: manifest != nil ? nil : .command(checkpoints: files, statePrecision: precision, inputProtocol: `protocol`))
        CollectionOptions.notePrecision(col)
        let indexing = IndexProgress(total: dataset.corpus.count, label: "documents")
        let skipped = try Evaluation.index(dataset, into: col) { p in
            indexing.update(done: p.documentsDone, tokens: p.tokensDone, final: p.documentsDone == p.documentsTotal)
        }
        if skipped > 0 { printError("eval: \(skipped) empty documents skipped") }

        let progress = QueryProgress()
        let results = try Evaluation.run(dataset, collection: col, stages: stageNames.compactMap(EvaluationStage.named),
                                         depth: depth, instruction: instruction) { progress.update($0) }
        if let runFile {
            var lines: [String] = []
            for r in results { lines += TrecRun.lines(r.runs, tag: r.stage, queryOrder: judged.map(\.id)) }
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: runFile))
        }
        try report(results.map { ($0.stage, $0.metrics, $0.perQuery, $0.latency as LatencySummary?) },
                   documents: dataset.corpus.count, queries: judged.count)
    }

    /// `--score-run`: the metrics of each tag of a run file.
    func score(runFile: String) throws {
        let qrelsURL = qrels.map { URL(fileURLWithPath: $0) } ?? URL(fileURLWithPath: data!).appendingPathComponent("qrels/test.tsv")
        let judgements = try Qrels.load(qrelsURL)
        let runs = try TrecRun.read(URL(fileURLWithPath: runFile))
        let rows = runs.keys.sorted().map { tag -> (String, QueryMetrics, [String: QueryMetrics], LatencySummary?) in
            // Like trec_eval: the queries of the run that have judgements.
            let judged = Qrels(judgements.judgements.filter { runs[tag]![$0.key] != nil })
            let per = TrecMetrics.evaluate(runs: runs[tag]!, qrels: judged)
            return (tag, TrecMetrics.mean(per.values), per, nil)
        }
        try report(rows, documents: nil, queries: nil)
    }

    func report(_ rows: [(String, QueryMetrics, [String: QueryMetrics], LatencySummary?)], documents: Int?, queries: Int?) throws {
        if json {
            let stages = rows.map { name, m, per, latency in
                EvalOutput.Stage(stage: name, metrics: .init(m), queries: per.count,
                                 latency: latency.map { .init(mean_ms: $0.mean, p50_ms: $0.p50, p95_ms: $0.p95) },
                                 per_query: perQuery ? per.mapValues(EvalOutput.Metrics.init) : nil)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let output = EvalOutput(stages: stages, documents: documents, queries: queries)
            print(String(decoding: try encoder.encode(output), as: UTF8.self))
            return
        }
        let names = rows.map(\.0)
        let width = max(12, names.map(\.count).max() ?? 0)
        func pad(_ s: String) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
        print(pad("metric") + "  " + names.map(pad).joined(separator: "  "))
        let metrics: [(String, (QueryMetrics) -> Double)] = [("NDCG@10", \.ndcg10), ("MRR@10", \.mrr10), ("Recall@100", \.recall100), ("MAP", \.map)]
        for (label, value) in metrics {
            print(pad(label) + "  " + rows.map { pad(String(format: "%.4f", value($0.1))) }.joined(separator: "  "))
        }
        if rows.contains(where: { $0.3 != nil }) {
            print(pad("mean ms") + "  " + rows.map { pad($0.3.map { String(format: "%.2f", $0.mean) } ?? "-") }.joined(separator: "  "))
            print(pad("p95 ms") + "  " + rows.map { pad($0.3.map { String(format: "%.2f", $0.p95) } ?? "-") }.joined(separator: "  "))
        }
        print(pad("queries") + "  " + rows.map { pad(String($0.2.count)) }.joined(separator: "  "))
    }
}

/// Queries done per stage on standard error: a redrawn line on a terminal, a line every 2 s otherwise.
final class QueryProgress {
    let isTerminal = isatty(STDERR_FILENO) != 0
    var last = ContinuousClock.now
    var stageStart = ContinuousClock.now
    var stage = ""

    func update(_ p: EvaluationProgress) {
        if p.stage != stage { stage = p.stage; stageStart = .now }
        let done = p.queriesDone == p.queriesTotal
        guard isTerminal || done || ContinuousClock.now - last >= .seconds(2) else { return }
        last = .now
        let elapsed = max(1e-9, (ContinuousClock.now - stageStart) / .seconds(1))
        let line = String(format: "%@: %d/%d queries  %.1f queries/s", p.stage, p.queriesDone, p.queriesTotal, Double(p.queriesDone) / elapsed)
        FileHandle.standardError.write(Data((isTerminal ? "\r" + line + (done ? "\n" : "") : "progress: " + line + "\n").utf8))
    }
}

/// `eval --json`: per stage its mean metrics (trec_eval's names), query count, latency and, with
/// `--per-query`, each query's metrics.
struct EvalOutput: Encodable {
    struct Metrics: Encodable {
        var ndcg10, mrr10, recall100, map: Double
        init(_ m: QueryMetrics) { (ndcg10, mrr10, recall100, map) = (m.ndcg10, m.mrr10, m.recall100, m.map) }
        enum CodingKeys: String, CodingKey { case ndcg10 = "ndcg@10", mrr10 = "mrr@10", recall100 = "recall@100", map }
    }
    struct Latency: Encodable { var mean_ms, p50_ms, p95_ms: Double }
    struct Stage: Encodable {
        var stage: String
        var metrics: Metrics
        var queries: Int
        var latency: Latency?
        var per_query: [String: Metrics]?

        func encode(to encoder: any Encoder) throws {
            // The metrics sit beside the stage's other fields, as in the table.
            try metrics.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(stage, forKey: .stage)
            try c.encode(queries, forKey: .queries)
            try c.encodeIfPresent(latency, forKey: .latency)
            try c.encodeIfPresent(per_query, forKey: .per_query)
        }
        enum CodingKeys: String, CodingKey { case stage, queries, latency, per_query }
    }
    var stages: [Stage]
    var documents: Int?
    var queries: Int?
}
