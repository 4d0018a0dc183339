import ArgumentParser
import EmbeddingRWKV
import Foundation
import RWKVRetrieval

/// `rwkv-emb bench index`: collection indexing throughput against the engine's bare passes on the same inputs.
struct BenchIndex: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Index throughput (docs/s, tokens/s) vs the engine's bare prefill of the same tokens.",
        discussion: """
            Bare: the engine alone on pre-tokenized inputs, batched like the collection does it: the embedding \
            pass (document + EOS, all layers, [RETR] head) and the state pass (instruction template, reranker \
            layers). Index: DocumentCollection.add of the same texts into a new collection (tokenizing, hashing, \
            encoding states, writing and fsync'ing included). Random-weight Tiny-shape model unless --layers/--width.
            """)

    @Option(help: "Documents.")
    var documents: Int = 64

    @Option(help: "Tokens per document.")
    var tokens: Int = 256

    @Option(help: "State precision.")
    var precision: StatePrecision = .fp16

    @OptionGroup var batches: AddBatchOptions

    @OptionGroup var shape: RandomModelShape

    @Option(help: "Repetitions (the best of each is reported).")
    var iterations: Int = 2

    @Option(name: .customLong("weight-precision"), help: PrecisionChoice.help)
    var weightPrecision: WeightPrecision = .auto

    func run() async throws {
        RetrievalBench.debugNote()
        RetrievalBench.machineNote()
        let models = try shape.models(precision: PrecisionChoice.resolve(weightPrecision))
        let texts = try RetrievalBench.texts(count: documents, tokens: tokens, tokenizer: models.tokenizer)
        let embedder = Embedder(model: models.model, tokenizer: models.tokenizer, normalize: true)
        let embeddingInputs = texts.map(embedder.tokens(for:))
        let stateInputs = texts.map(models.reranker.documentTokens)
        let totalTokens = embeddingInputs.reduce(0) { $0 + $1.count } + stateInputs.reduce(0) { $0 + $1.count }
        let ws = models.model.makeWorkspace()
        // The same batches as DocumentCollection.add.
        let (batchDocuments, batchTokens) = (batches.batchDocuments, batches.batchTokens)
        var ranges: [Range<Int>] = []
        var start = 0
        while start < texts.count {
            var end = start, t = 0
            while end < texts.count && end - start < batchDocuments && t < batchTokens {
                t += embeddingInputs[end].count + stateInputs[end].count
                end += 1
            }
            ranges.append(start..<end)
            start = end
        }
        var bare = Double.infinity, index = Double.infinity
        var phases = ""
        var overhead = 0.0
        var runs: [String] = []
        var disk: CollectionStats?
        func runBare() throws {
            let t = try RetrievalBench.time {
                for b in ranges {
                    _ = try models.model.embed(Array(embeddingInputs[b]), normalize: true, workspace: ws)
                    _ = try models.reranker.documentStates(tokens: Array(stateInputs[b]), workspace: ws)
                }
            }
            bare = min(bare, t)
            runs.append(String(format: "bare %.2f", t))
        }
        try RetrievalBench.withTemporaryDirectory { dir in
            for i in 0..<iterations {
                // Alternate which runs first (the machine is shared; both see the same conditions on average).
                if i % 2 == 0 { try runBare() }
                let c = try DocumentCollection.create(at: dir.appendingPathComponent("c\(i)"), models: models,
                                                      configuration: .init(statePrecision: precision))
                let docs = texts.enumerated().map { Document(id: "d\($0.offset)", text: $0.element) }
                var last: AddProgress?
                let t = try RetrievalBench.time {
                    try c.add(docs, options: batches.addOptions()) { last = $0 }
                }
                runs.append(String(format: "index %.2f", t))
                disk = c.stats()
                if t < index, let p = last {
                    index = t
                    overhead = p.prepareSeconds + p.encodeSeconds + p.writeSeconds
                    phases = String(format: "prepare %.2f s, model %.2f s, encode states %.2f s, write + fsync %.2f s",
                                    p.prepareSeconds, p.computeSeconds, p.encodeSeconds, p.writeSeconds)
                }
                if i % 2 == 1 { try runBare() }
            }
        }
        print("model: \(shape.description), state layers 0..<\(models.stateLayers), \(precision.rawValue) states, \(models.model.precision.rawValue) weights")
        print("inputs: \(documents) documents x \(tokens) tokens = \(totalTokens) model tokens (embedding + state passes), \(ranges.count) batches")
        print(String(format: "bare engine: %.2f s  %7.1f docs/s  %8.0f tokens/s", bare, Double(documents) / bare, Double(totalTokens) / bare))
        print(String(format: "index:       %.2f s  %7.1f docs/s  %8.0f tokens/s", index, Double(documents) / index, Double(totalTokens) / index))
        print("runs (s, in order): " + runs.joined(separator: ", "))
        print("index phases: " + phases + String(format: " (non-model work %.1f%% of the index time)", 100 * overhead / index))
        if let d = disk {
            print(String(format: "disk: %d passages, %.0f bytes per passage (embedding %d, state %d), SQLite %.1f%% of %d bytes",
                         d.passages, d.bytesPerPassage, d.embeddingBytesPerPassage, d.stateBytesPerPassage, d.sqliteShare * 100, d.totalBytes))
        }
        print(String(format: "index / bare throughput: %.1f%% (goal >= 90%%)", 100 * bare / index))
    }
}
