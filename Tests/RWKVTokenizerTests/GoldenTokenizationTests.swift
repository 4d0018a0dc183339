import Testing
import RWKVTokenizer
import RWKVTestSupport

/// Token ids must equal the reference tokenizer's (rwkv-emb 0.2.6) exactly.
@Suite struct GoldenTokenizationTests {
    let tokenizer = WorldTokenizer.shared

    @Test(arguments: Fixtures.modelNames)
    func tokenizeSectionMatches(model: String) throws {
        let golden = try Fixtures.golden(model)
        #expect(!golden.tokenize.isEmpty)
        for record in golden.tokenize {
            #expect(tokenizer.encode(record.text) == record.ids, "text: \(record.text.debugDescription)")
        }
    }

    @Test(arguments: Fixtures.modelNames)
    func embedSectionMatchesWithEOS(model: String) throws {
        let golden = try Fixtures.golden(model)
        for record in golden.embed {
            #expect(record.ids.last == SpecialTokens.eos)
            #expect(tokenizer.encode(record.text, addEOS: true) == record.ids, "text: \(record.text.debugDescription)")
        }
    }

    /// The reranker templates: online is the whole prompt plus EOS; offline splits it into a
    /// document part without EOS and a query part with EOS.
    @Test(arguments: Fixtures.modelNames)
    func rerankTemplatesMatch(model: String) throws {
        let golden = try Fixtures.golden(model)
        let instruct = "Instruct: Given a query, retrieve documents that answer the query\n"
        for record in golden.rerankOnline {
            let prompt = "\(instruct)Document: \(record.document)\nQuery: \(record.query)"
            #expect(tokenizer.encode(prompt, addEOS: true) == record.ids)
        }
        for record in golden.rerankOffline {
            #expect(tokenizer.encode("\(instruct)Document: \(record.document)\n") == record.docIds)
            #expect(tokenizer.encode("Query: \(record.query)", addEOS: true) == record.queryIds)
        }
    }

    @Test(arguments: Fixtures.modelNames)
    func goldenIDsDecodeBackToTheText(model: String) throws {
        for record in try Fixtures.golden(model).tokenize {
            #expect(try tokenizer.decode(record.ids) == record.text)
        }
    }
}
