import Testing
import EmbeddingRWKV

@Test func taskHeadsUseTheReferenceNames() {
    #expect(EmbeddingTask.allCases.map(\.referenceName) == ["[RETR]", "[STS]", "[CLS]"])
}
