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

/// Short, varied documents.
let sampleTexts = [
    "The cat sat on the mat and watched the birds outside.",
    "Paris is the capital and most populous city of France.",
    "Swift is a general-purpose programming language developed by Apple.",
    "The Nile is a major north-flowing river in northeastern Africa.",
    "Mount Everest is Earth's highest mountain above sea level.",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "The Great Wall of China is a series of fortifications.",
    "RWKV is a recurrent neural network with transformer-level performance.",
    "Coffee is a beverage brewed from roasted coffee beans.",
    "The mitochondria is the powerhouse of the cell.",
    "Jupiter is the fifth planet from the Sun and the largest in the Solar System.",
    "Tokyo is the capital of Japan and one of the largest cities in the world.",
]

let sampleQueries = ["What is the capital of France?", "largest planet", "How do plants make energy?"]

func sampleDocuments(_ n: Int = sampleTexts.count) -> [Document] {
    (0..<n).map { Document(id: "doc\($0)", text: sampleTexts[$0 % sampleTexts.count] + ($0 >= sampleTexts.count ? " (\($0))" : "")) }
}
