// swift-tools-version: 6.1
import PackageDescription

// Data flows one way: text -> RWKVTokenizer -> (weights from RWKVCheckpoint) ->
// EmbeddingRWKV (model, computed with RWKVKernels) -> embeddings and states -> CLI / later store and server.
let package = Package(
    name: "swift-rwkv-emb",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "RWKVTokenizer", targets: ["RWKVTokenizer"]),
        .library(name: "RWKVCheckpoint", targets: ["RWKVCheckpoint"]),
        .library(name: "EmbeddingRWKV", targets: ["EmbeddingRWKV"]),
        .library(name: "RWKVRetrieval", targets: ["RWKVRetrieval"]),
        .executable(name: "rwkv-emb", targets: ["rwkv-emb"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Text <-> token ids (RWKV "world" vocabulary, greedy longest byte match).
        .target(
            name: "RWKVTokenizer",
            resources: [.copy("Resources/rwkv_vocab_v20230424.txt"), .copy("Resources/LICENSE-vocab.txt")]
        ),
        // PyTorch .pth (zip + whitelisted pickle) and safetensors; typed, validated model weights.
        .target(name: "RWKVCheckpoint"),
        // BLAS: OpenBLAS on Linux (Accelerate is used directly on Apple platforms).
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // The WKV recurrence in C (AVX2+FMA build picked at run time on x86-64).
        .target(name: "RWKVKernelsC"),
        // Compute kernels: sgemm wrapper, WKV recurrence, norms, fused element-wise passes.
        .target(
            name: "RWKVKernels",
            dependencies: ["RWKVKernelsC", .target(name: "CBLAS", condition: .when(platforms: [.linux]))]
        ),
        // The model: RWKV-7 forward, states, embeddings, state-based reranker.
        .target(
            name: "EmbeddingRWKV",
            dependencies: ["RWKVTokenizer", "RWKVCheckpoint", "RWKVKernels"]
        ),
        // Collections: documents, embeddings and cached reranker states on disk; search + offline reranking.
        .target(
            name: "RWKVRetrieval",
            dependencies: ["EmbeddingRWKV", "RWKVCheckpoint", "RWKVTokenizer", "RWKVKernels"]
        ),
        .executableTarget(
            name: "rwkv-emb",
            dependencies: [
                "RWKVTokenizer", "RWKVCheckpoint", "EmbeddingRWKV", "RWKVRetrieval", "RWKVKernels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Locates and decodes the reference fixtures in Tests/Fixtures (shared by the test targets).
        .target(name: "RWKVTestSupport", path: "Tests/RWKVTestSupport"),
        .testTarget(name: "RWKVTokenizerTests", dependencies: ["RWKVTokenizer", "RWKVTestSupport"]),
        .testTarget(name: "RWKVCheckpointTests", dependencies: ["RWKVCheckpoint", "RWKVTestSupport"]),
        .testTarget(
            name: "EmbeddingRWKVTests",
            dependencies: ["EmbeddingRWKV", "RWKVTokenizer", "RWKVCheckpoint", "RWKVTestSupport"]
        ),
        .testTarget(
            name: "RWKVRetrievalTests",
            dependencies: ["RWKVRetrieval", "EmbeddingRWKV", "RWKVCheckpoint", "RWKVTestSupport"]
        ),
    ]
)
