// swift-tools-version: 6.1
import PackageDescription

// Data flows one way: text -> RWKVTokenizer -> (weights: RWKVHub finds them, RWKVCheckpoint reads them) ->
// EmbeddingRWKV (model, computed with RWKVKernels) -> embeddings and states -> RWKVRetrieval (store,
// search, rerank) -> RWKVServer (HTTP) and rwkv-emb (command line).
let package = Package(
    name: "swift-rwkv-emb",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "RWKVTokenizer", targets: ["RWKVTokenizer"]),
        .library(name: "RWKVCheckpoint", targets: ["RWKVCheckpoint"]),
        .library(name: "EmbeddingRWKV", targets: ["EmbeddingRWKV"]),
        .library(name: "RWKVHub", targets: ["RWKVHub"]),
        .library(name: "RWKVRetrieval", targets: ["RWKVRetrieval"]),
        .library(name: "RWKVServer", targets: ["RWKVServer"]),
        .library(name: "RWKVEvaluation", targets: ["RWKVEvaluation"]),
        .executable(name: "rwkv-emb", targets: ["rwkv-emb"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
    ],
    targets: [
        // Text <-> token ids (RWKV "world" vocabulary, greedy longest byte match).
        .target(
            name: "RWKVTokenizer",
            dependencies: ["RWKVSupport"],
            resources: [.copy("Resources/rwkv_vocab_v20230424.txt"), .copy("Resources/LICENSE-vocab.txt")]
        ),
        // Package-internal helpers with one owner each (fp16/bf16 conversion, durations, L2 normalisation, JSON string literals, hex bytes).
        .target(name: "RWKVSupport"),
        // PyTorch .pth (zip + whitelisted pickle) and safetensors; typed, validated model weights.
        .target(name: "RWKVCheckpoint", dependencies: ["RWKVSupport"]),
        // BLAS: OpenBLAS on Linux (Accelerate is used directly on Apple platforms).
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // In C: the WKV recurrence (AVX-512F / AVX2+FMA builds), CRC-32C and the int8 GEMM loader, picked at run time.
        .target(name: "RWKVKernelsC"),
        // Compute kernels: sgemm wrapper, WKV recurrence, norms, fused element-wise passes.
        .target(
            name: "RWKVKernels",
            dependencies: ["RWKVKernelsC", .target(name: "CBLAS", condition: .when(platforms: [.linux]))]
        ),
        // HNSW (approximate nearest neighbours): Debian's header-only hnswlib behind a small C interface.
        // Optimised in debug builds too: hnswlib at -O0 made the ANN tests ~5x slower.
        .target(name: "CHNSW", cxxSettings: [.unsafeFlags(["-O2"])]),
        // The model: RWKV-7 forward, states, embeddings, state-based reranker.
        .target(
            name: "EmbeddingRWKV",
            dependencies: ["RWKVTokenizer", "RWKVCheckpoint", "RWKVKernels", "RWKVSupport"]
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
        // Collections: documents, embeddings and cached reranker states on disk; search + offline reranking.
        .target(
            name: "RWKVRetrieval",
            dependencies: [
                "EmbeddingRWKV", "RWKVCheckpoint", "RWKVTokenizer", "RWKVKernels", "CHNSW", "RWKVSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Retrieval quality: BEIR data sets, trec_eval metrics, TREC runs, the evaluated stages.
        .target(name: "RWKVEvaluation", dependencies: ["RWKVRetrieval", "EmbeddingRWKV"]),
        // HTTP service: TEI / OpenAI / Jina-compatible routes over a dynamic batcher (Hummingbird 2).
        .target(
            name: "RWKVServer",
            dependencies: [
                "RWKVTokenizer", "RWKVCheckpoint", "EmbeddingRWKV", "RWKVRetrieval", "RWKVSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
            ],
            // The OpenAPI document served at /api-doc/openapi.json and the offline /docs page.
            resources: [.copy("Resources/openapi.json"), .copy("Resources/docs.html")]
        ),
        .executableTarget(
            name: "rwkv-emb",
            dependencies: [
                "RWKVTokenizer", "RWKVCheckpoint", "EmbeddingRWKV", "RWKVRetrieval", "RWKVKernels", "RWKVHub", "RWKVServer",
                "RWKVEvaluation", "RWKVSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Locates and decodes the reference fixtures in Tests/Fixtures (shared by the test targets).
        .target(name: "RWKVTestSupport", path: "Tests/RWKVTestSupport"),
        .testTarget(name: "RWKVTokenizerTests", dependencies: ["RWKVTokenizer", "RWKVCheckpoint", "RWKVTestSupport"]),
        .testTarget(name: "RWKVSupportTests", dependencies: ["RWKVSupport"]),
        .testTarget(name: "RWKVCheckpointTests", dependencies: ["RWKVCheckpoint", "RWKVTestSupport"]),
        .testTarget(
            name: "EmbeddingRWKVTests",
            dependencies: ["EmbeddingRWKV", "RWKVTokenizer", "RWKVCheckpoint", "RWKVKernels", "RWKVTestSupport"]
        ),
        .testTarget(name: "RWKVKernelsTests", dependencies: ["RWKVKernels", "RWKVKernelsC", "RWKVSupport", "RWKVCheckpoint", "RWKVTestSupport"]),
        .testTarget(
            name: "RWKVRetrievalTests",
            dependencies: [
                "RWKVRetrieval", "EmbeddingRWKV", "RWKVCheckpoint", "RWKVTokenizer", "RWKVKernels", "RWKVSupport", "RWKVTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "RWKVEvaluationTests",
            dependencies: ["RWKVEvaluation", "RWKVRetrieval", "RWKVCheckpoint", "RWKVTestSupport"]
        ),
        .testTarget(
            name: "RWKVHubTests",
            dependencies: [
                "RWKVHub", "RWKVTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The `rwkv-emb` commands as child processes (`swift build --build-tests` builds the executable).
        .testTarget(
            name: "RWKVCommandLineTests",
            dependencies: ["RWKVRetrieval", "EmbeddingRWKV", "RWKVTestSupport"]
        ),
        .testTarget(
            name: "RWKVServerTests",
            dependencies: [
                "RWKVServer", "RWKVRetrieval", "EmbeddingRWKV", "RWKVTokenizer", "RWKVCheckpoint", "RWKVTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ]
)
