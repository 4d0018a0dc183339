import Testing
import RWKVTokenizer
import RWKVTestSupport

@Test func eosMatchesTheFixtures() throws {
    for model in Fixtures.modelNames {
        #expect(try Fixtures.golden(model).eos == SpecialTokens.eos)
    }
}
