import ArgumentParser
import EmbeddingRWKV
import Foundation
import RWKVRetrieval

/// `rwkv-emb bench states`: bytes per document and reranking accuracy of each state precision.
struct BenchStates: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "states",
        abstract: "Bytes per document and max/mean |logit difference| vs fp32 states for each state precision.",
        discussion: """
            Runs on the fixture models in Tests/Fixtures (when present) and a random-weight Tiny-shape model \
            (12 x 768, reranker reading layers 2, 5, 8, 11). For reference: the paper's 1.12 MB per Tiny document \
            is 12 layers x 12 heads x 64 x 64 x 2 bytes (fp16 WKV of all layers).
            """)

    @Option(help: "Documents per model.")
    var documents: Int = 16

    @Option(help: "Tokens per document.")
    var tokens: Int = 256

    @Option(help: "Queries per model.")
    var queries: Int = 4

    @Option(help: ArgumentHelp("Fixture directory (with <name>/embedding.pth and reranker.pth).", valueName: "dir"))
    var fixtures: String = "Tests/Fixtures"

    @Flag(help: "Skip the Tiny-shape model.")
    var noTiny = false

    func run() async throws {
        RetrievalBench.debugNote()
        var runs: [(String, RetrievalModels)] = []
        for name in ["tiny-bf16", "small-fp16"] {
            let e = URL(fileURLWithPath: fixtures).appendingPathComponent(name).appendingPathComponent("embedding.pth")
            let r = e.deletingLastPathComponent().appendingPathComponent("reranker.pth")
            if FileManager.default.fileExists(atPath: e.path) {
                runs.append(("fixture \(name)", try RetrievalModels.load(embedding: e, reranker: r)))
            }
        }
        if !noTiny { runs.append(("random Tiny 12x768", try RetrievalBench.dummyModels())) }
        let paper = 12 * 12 * 64 * 64 * 2
        print("paper: \(paper) bytes (\(String(format: "%.2f", Double(paper) / 1_048_576)) MiB) per Tiny document (fp16 WKV, 12 layers)")
        for (label, models) in runs {
            let texts = try RetrievalBench.texts(count: documents, tokens: tokens, tokenizer: models.tokenizer)
            let queryTexts = try RetrievalBench.texts(count: queries, tokens: 24, tokenizer: models.tokenizer, seed: 77)
            let states = try models.reranker.documentStates(for: texts)
            var reference: [[Float]] = []
            for q in queryTexts {
                reference.append(try models.reranker.rerankOffline(query: q, documentStates: states).map(\.logit))
            }
            let full = StateCodec(precision: .fp16, layerCount: models.model.layerCount, embeddingSize: models.model.width)
            print("\n\(label): state layers 0..<\(models.stateLayers) of \(models.model.layerCount), reranker layers \(models.fingerprint.rerankerLayerIndices); \(documents) docs x \(tokens) tokens, \(queries) queries")
            print("precision   bytes/doc   vs all-layer fp16   max |dlogit|   mean |dlogit|")
            for p in StatePrecision.allCases {
                let codec = StateCodec(precision: p, layerCount: models.stateLayers, embeddingSize: models.model.width)
                let decoded = states.map { codec.decode(codec.encode($0)) }
                var maxDiff: Float = 0, sum: Double = 0, n = 0
                for (q, ref) in zip(queryTexts, reference) {
                    let logits = try models.reranker.rerankOffline(query: q, documentStates: decoded).map(\.logit)
                    for (a, b) in zip(logits, ref) {
                        maxDiff = max(maxDiff, abs(a - b))
                        sum += Double(abs(a - b))
                        n += 1
                    }
                }
                print(String(format: "%-9@   %9d   %16.1f%%   %12.2e   %13.2e", p.rawValue, codec.payloadBytes,
                             100 * Double(codec.payloadBytes) / Double(full.payloadBytes), maxDiff, sum / Double(max(n, 1))))
            }
        }
    }
}
