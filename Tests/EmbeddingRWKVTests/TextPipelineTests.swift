import Testing
import EmbeddingRWKV
import RWKVTokenizer
import RWKVTestSupport

/// The text-level API builds exactly the reference's token ids and scores.
@Suite struct TextPipelineTests {
    @Test func templatesGiveTheReferenceIds() throws {
        let m = try TestModels.load("tiny-bf16")
        let tokenizer = WorldTokenizer.shared
        let embedder = Embedder(model: m.model, tokenizer: tokenizer)
        for record in m.golden.embed {
            #expect(embedder.tokens(for: record.text) == record.ids)
        }
        let reranker = try StateReranker(model: m.model, network: m.reranker, tokenizer: tokenizer)
        for r in m.golden.rerankOnline {
            #expect(reranker.onlineTokens(query: r.query, document: r.document) == r.ids)
        }
        for r in m.golden.rerankOffline {
            #expect(reranker.documentTokens(r.document) == r.docIds)
            #expect(reranker.queryTokens(r.query) == r.queryIds)
        }
    }

    @Test func textRerankingMatchesTheReference() throws {
        let m = try TestModels.load("small-fp16")
        let reranker = try StateReranker(model: m.model, network: m.reranker, tokenizer: WorldTokenizer.shared)
        let batch = m.golden.rerankOfflineBatch
        let documents = m.golden.rerankOffline.filter { $0.query == batch.query }.map(\.document)
        let states = try reranker.documentStates(for: documents)
        #expect(states.allSatisfy { $0.layerCount == reranker.stateLayers })
        let offline = try reranker.rerankOffline(query: batch.query, documentStates: states)
        let online = try reranker.rerankOnline(query: batch.query, documents: documents)
        for (o, expected) in zip(offline, batch.logits) {
            #expect(abs(Double(o.logit) - expected) <= tolerance)
        }
        let expectedOnline = m.golden.rerankOnline.filter { $0.query == batch.query }
        for (o, expected) in zip(online, expectedOnline) {
            #expect(abs(Double(o.logit) - expected.logit) <= tolerance)
        }
    }
}
