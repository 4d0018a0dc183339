// swift-tools-version: 6.1
import PackageDescription

// Data flows one way: text -> RWKVTokenizer -> (weights from RWKVCheckpoint) ->
// EmbeddingRWKV (model, computed with RWKVKernels) -> embeddings and states -> CLI / later store and server.
// RWKVHub turns a model name into checkpoint files (Hugging Face cache, download) for the CLI.
let package = Package(
    name: "swift-rwkv-emb",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "RWKVTokenizer", targets: ["RWKVTokenizer"]),
        .library(name: "RWKVCheckpoint", targets: ["RWKVCheckpoint"]),
        .library(name: "EmbeddingRWKV", targets: ["EmbeddingRWKV"]),
        .library(name: "RWKVHub", targets: ["RWKVHub"]),
        .executable(name: "rwkv-emb", targets: ["rwkv-emb"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
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
        // Model names -> checkpoint files: the Hugging Face cache layout, resolution, verified resumable download.
        .target(
            name: "RWKVHub",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "rwkv-emb",
            dependencies: [
                "RWKVTokenizer", "RWKVCheckpoint", "EmbeddingRWKV", "RWKVHub",
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
            name: "RWKVHubTests",
            dependencies: [
                "RWKVHub", "RWKVTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ]
)
