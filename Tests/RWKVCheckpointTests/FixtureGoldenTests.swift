import Testing
import RWKVTestSupport

@Suite struct FixtureGoldenTests {
    @Test(arguments: Fixtures.modelNames)
    func goldenDescribesTheFixtureModel(model: String) throws {
        let golden = try Fixtures.golden(model)
        #expect(golden.headSize == 64)
        #expect(golden.eos == 65535)
        #expect(golden.nEmbd % golden.headSize == 0)
        for record in golden.embed {
            #expect(record.ids.last == golden.eos)
            #expect(record.retr.count == golden.nEmbd)
            #expect(record.stateShift.count == golden.nLayer * 2 * golden.nEmbd)
        }
    }
}
