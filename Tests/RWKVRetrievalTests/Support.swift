import Foundation
import EmbeddingRWKV
import RWKVCheckpoint
import RWKVRetrieval
import RWKVTestSupport

/// Fixture models as retrieval models, loaded once per test process.
enum Models {
    static func load(_ name: String) throws -> RetrievalModels {
        try cache.value(name) {
            try RetrievalModels.load(embedding: Fixtures.embeddingCheckpoint(name), reranker: Fixtures.rerankerCheckpoint(name))
        }
    }
    static var tiny: RetrievalModels { get throws { try load("tiny-bf16") } }
    private static let cache = Memo<RetrievalModels>()
}

func sampleDocuments(_ n: Int = sampleTexts.count) -> [Document] {
    (0..<n).map { Document(id: "doc\($0)", text: sampleTexts[$0 % sampleTexts.count] + ($0 >= sampleTexts.count ? " (\($0))" : "")) }
}
