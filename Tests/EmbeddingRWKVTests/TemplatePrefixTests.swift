import Testing
import EmbeddingRWKV
import RWKVCheckpoint
import RWKVKernels
import RWKVTestSupport
import RWKVTokenizer

/// The reranker's cached template prefix (`Instruct: ...\nDocument:`): documents start from its state
/// when their ids start with its ids, and run from zero otherwise.
@Suite struct TemplatePrefixTests {
    static func reranker() throws -> StateReranker {
        let m = try TestModels.load("tiny-bf16")
        return try StateReranker(model: m.model, network: m.reranker, tokenizer: WorldTokenizer())
    }

    @Test func documentsStartingWithThePrefixGetTheSameStatesAsFromZero() throws {
        let reranker = try Self.reranker()
        let prefix = reranker.templatePrefix.ids
        #expect(prefix == Array(reranker.documentTokens("").prefix(prefix.count)))
        #expect(prefix.count >= 10)
        let texts = ["the cat sat on the mat", "Paris is the capital of France.", "", "\n\nleading newlines", "日本語の文書"]
        let tokens = texts.map(reranker.documentTokens)
        #expect(tokens.allSatisfy { $0.starts(with: prefix) }, "greedy matching kept the prefix ids for these texts")
        let cached = try reranker.documentStates(tokens: tokens)
        let zero = try reranker.documentStatesFromZero(tokens: tokens)
        for (a, b) in zip(cached, zero) {
            #expect(a.layerCount == reranker.stateLayers)
            #expect(maxAbsDiff(a.rawValues, b.rawValues) <= 1e-5)
        }
    }

    @Test func idsThatDifferFromThePrefixRunFromTheZeroState() throws {
        let reranker = try Self.reranker()
        let prefix = reranker.templatePrefix.ids
        // Not the template: the prefix cannot apply, the result must equal the zero-state pass.
        let other = [reranker.tokenizer.encode("Something else entirely", addEOS: false),
                     Array(prefix.dropLast()) + [prefix.last! == 59 ? 45 : 59]]
        #expect(other.allSatisfy { !$0.starts(with: prefix) })
        let cached = try reranker.documentStates(tokens: other)
        let zero = try reranker.documentStatesFromZero(tokens: other)
        for (a, b) in zip(cached, zero) { #expect(a.rawValues == b.rawValues) }
    }
}

/// The query-instruction prefix (`Instruct: {instruction}\nQuery:`): queries start from its state, once per
/// instruction, where their ids start with its ids.
@Suite struct QueryPrefixTests {
    static let queries = ["what is the capital of France?", "", "日本語の質問", "\n\nleading newlines", "x"]
    static let instructions = [Embedder.defaultInstruction, "Find recipes that use the ingredient"]

    /// fp32: a remainder's rows go through OpenBLAS in calls of another shape, whose last bits differ, so
    /// equal within 1e-6 of the largest value (measured 1.2e-6 absolute at |value| 2.9); int8 keeps every product
    /// row-invariant, so exactly equal.
    @Test(arguments: [WeightPrecision.fp32, .int8])
    func cachedQueriesMatchTheUncachedPass(precision: WeightPrecision) throws {
        if precision == .int8 { try #require(MatrixKernels.current.hasInt8, "oneDNN is not installed") }
        let weights = try EmbeddingModelWeights.load(contentsOf: Fixtures.embeddingCheckpoint("tiny-bf16"))
        let model = RWKVModel(weights, precision: precision)
        let embedder = Embedder(model: model, tokenizer: try WorldTokenizer())
        for instruction in Self.instructions {
            let prefix = try embedder.queryPrefix(instruction)
            #expect(prefix.ids.count >= 8)
            let tokens = Self.queries.map { embedder.tokens(for: Embedder.query($0, instruction: instruction)) }
            #expect(tokens.filter { $0.starts(with: prefix.ids) }.count >= 4, "the prefix applies to these queries")
            let cached = try embedder.embedQueries(Self.queries, instruction: instruction)
            let uncached = try model.embed(tokens)
            let worst = zip(cached, uncached).map { Double(maxAbsDiff($0, $1)) }.max()!
            let scale = Double(uncached.joined().map(abs).max()!)
            print("query prefix \(precision): \(prefix.ids.count) ids cached, max |difference| \(worst), largest |value| \(scale)")
            #expect(worst <= (precision == .fp32 ? 1e-6 * scale : 0))
        }
    }

    @Test func sequencesThatDoNotStartWithThePrefixRunFromZero() throws {
        let model = try TestModels.load("tiny-bf16").model
        let prefix = try PrefixState(model: model, ids: [33155, 45, 40213])
        let sequences = [[45, 40213, RWKVModel.eos], [33155, 46, RWKVModel.eos], [33155, 45, RWKVModel.eos]]
        #expect(prefix.split(sequences[0], zero: model.zeroState()).remainder == sequences[0])
        #expect(try model.embed(sequences, prefix: prefix) == model.embed(sequences))
        // A prefix holding EOS would skip pooled outputs: not used.
        let withEOS = try PrefixState(model: model, ids: [33155, RWKVModel.eos])
        let eosSequences = [[33155, RWKVModel.eos, 45, RWKVModel.eos]]
        #expect(try model.embed(eosSequences, prefix: withEOS) == model.embed(eosSequences))
    }
}
