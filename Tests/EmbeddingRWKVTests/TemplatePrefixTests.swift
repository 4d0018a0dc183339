import Testing
import EmbeddingRWKV
import RWKVCheckpoint
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
