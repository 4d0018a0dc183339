import ArgumentParser
import Foundation
import EmbeddingRWKV
import Logging
import RWKVCheckpoint
import RWKVHub
import RWKVRetrieval
import RWKVServer

/// `rwkv-emb serve`: the HTTP service (TEI, OpenAI and Jina/Cohere compatible routes).
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve embeddings and reranking over HTTP (TEI / OpenAI / Jina compatible).",
        discussion: """
            Routes: POST /embed /embed_all /similarity /rerank /tokenize /decode / /invocations, \
            GET /info /health /ping /metrics (TEI); POST /v1/embeddings /embeddings, GET /v1/models (OpenAI); \
            POST /v1/rerank (Jina, Cohere v1), /v2/rerank (Cohere v2). The OpenAPI document is at \
            /api-doc/openapi.json, a browsable page at /docs. \
            SIGTERM or SIGINT finishes in-flight requests and exits 0.
            """
    )

    /// The library's defaults: every address and limit option below defaults to the value `ServerConfiguration` has.
    static let defaults = ServerConfiguration()

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Serve random weights of a released shape instead of a checkpoint (load testing): tiny, base, large.")
    var randomShape: ReleasedShape?

    @Option(help: ArgumentHelp("Reranker (enables /rerank, /v1/rerank and collections): a file, a directory or a name "
                               + "(default: the one paired with a named --model).", valueName: "reranker"))
    var reranker: String?

    @Option(help: ArgumentHelp("Collection folder to serve (repeatable).", valueName: "dir"))
    var collection: [String] = []

    @Option(help: ArgumentHelp("Folder where collections created through the API are kept (its collections are served too).", valueName: "dir"))
    var collectionsDir: String?

    @Option(help: "Address to bind.")
    var host = defaults.host

    @Option(help: "Port to bind (0: any free port; the bound port is printed).")
    var port = defaults.port

    @Option(help: "Model id reported by /info and the OpenAI routes (default: the checkpoint's file name).")
    var modelID: String?

    @Option(help: "Token budget of one coalesced forward pass.")
    var maxBatchTokens = defaults.maxBatchTokens

    @Option(help: "Requests coalesced into one forward pass at most.")
    var maxBatchRequests = defaults.maxBatchRequests

    @Option(help: "Longest wait (ms) for more requests before a pass when fewer are queued than the last pass served (0: none).")
    var batchLingerMs = Int(defaults.batchLinger / .milliseconds(1))

    @Option(help: "Inputs one request may carry (split into engine batches of --max-batch-tokens).")
    var maxClientBatchSize = defaults.maxClientBatchSize

    @Option(help: "Model input tokens one request may carry in all.")
    var maxClientBatchTokens = defaults.maxClientBatchTokens

    @Flag(name: .customLong("accept-token-ids"), help: "Take token ids on /v1/embeddings (refused by default: OpenAI clients send tiktoken ids, not RWKV ids).")
    var acceptTokenIDs = false

    @Option(help: ArgumentHelp("Origin browsers may call from (repeatable; default: any, as TEI).", valueName: "origin"))
    var corsAllowOrigin: [String] = []

    @Option(help: "Tokens of one input at most (longer: 422, or cut when the request asks to truncate).")
    var maxInputLength = defaults.maxInputLength

    @Option(help: "Requests in flight at most (beyond: 429).")
    var maxConcurrentRequests = defaults.maxConcurrentRequests

    @Option(help: "Largest request body in bytes (beyond: 413).")
    var payloadLimit = defaults.payloadLimit

    @Flag(help: "Truncate over-long inputs even when a request does not ask to.")
    var autoTruncate = false

    @Option(help: ArgumentHelp("Accept `Authorization: Bearer KEY`, with the scopes after the last colon (read: embed, rerank, "
                               + "tokenize, search; write: add, delete, compact; admin: create, delete collections; none listed: all). "
                               + "Repeatable; with any key, only /health, /ping, /metrics, /docs and /api-doc/openapi.json are public "
                               + "(default: $RWKV_EMB_API_KEY, every scope).", valueName: "key[:scope,...]"))
    var apiKey: [String] = []

    @Option(help: ArgumentHelp("File of API keys, one KEY[:scope,...] per line (# comments).", valueName: "path"))
    var apiKeysFile: String?

    @Option(help: "Seconds a client may take to send one whole request before its connection is closed (slow bodies).")
    var requestReadTimeout = Int(defaults.requestReadTimeout / .seconds(1))

    @Option(help: "Seconds an idle connection stays open.")
    var idleTimeout = Int(defaults.idleTimeout / .seconds(1))

    @Option(help: "Connections served at once (more wait until one closes).")
    var maxConnections = defaults.maxConnections

    @Option(help: .hidden)
    var debugInferenceDelayMs = 0

    func validate() throws {
        guard modelOptions.model == nil || randomShape == nil else { throw ValidationError("give at most one of --model and --random-shape") }
        if randomShape != nil && (reranker != nil || !collection.isEmpty || collectionsDir != nil) {
            throw ValidationError("--random-shape serves embeddings only (no --reranker or collections)")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        for (name, value) in [("--max-batch-tokens", maxBatchTokens), ("--max-batch-requests", maxBatchRequests),
                              ("--max-client-batch-size", maxClientBatchSize), ("--max-client-batch-tokens", maxClientBatchTokens),
                              ("--max-input-length", maxInputLength),
                              ("--max-concurrent-requests", maxConcurrentRequests), ("--payload-limit", payloadLimit),
                              ("--request-read-timeout", requestReadTimeout), ("--idle-timeout", idleTimeout),
                              ("--max-connections", maxConnections)] where value < 1 {
            throw ValidationError("\(name) must be at least 1")
        }
    }

    func run() async throws {
        var config = ServerConfiguration()
        config.host = host
        config.port = port
        // Named models (and the default) come with their paired reranker; a file serves embeddings alone unless --reranker.
        let files = randomShape != nil ? nil : try await ModelLocator.resolver().resolvePair(
            model: modelOptions.model, reranker: reranker, needsReranker: modelOptions.model.map { KnownModels.named($0) != nil } ?? true)
        let modelURL = files?.embedding.url
        config.modelID = modelID ?? modelURL?.deletingPathExtension().lastPathComponent ?? "random-\(randomShape?.rawValue ?? "")"
        config.maxBatchTokens = maxBatchTokens
        config.maxBatchRequests = maxBatchRequests
        config.maxClientBatchSize = maxClientBatchSize
        config.maxClientBatchTokens = maxClientBatchTokens
        config.acceptTokenIDs = acceptTokenIDs
        config.corsAllowOrigins = corsAllowOrigin.isEmpty ? nil : corsAllowOrigin
        config.batchLinger = .milliseconds(max(0, batchLingerMs))
        config.maxInputLength = maxInputLength
        config.maxConcurrentRequests = maxConcurrentRequests
        config.payloadLimit = payloadLimit
        config.autoTruncate = autoTruncate
        if apiKey.isEmpty && apiKeysFile == nil { config.apiKey = ProcessInfo.processInfo.environment["RWKV_EMB_API_KEY"] }
        do {
            config.apiKeys = try apiKey.map { try APIKey(parsing: $0) }
                + (apiKeysFile.map { try APIKey.load(contentsOf: URL(fileURLWithPath: $0)) } ?? [])
        } catch { throw ValidationError("--api-key: \(error)") }
        config.requestReadTimeout = .seconds(requestReadTimeout)
        config.idleTimeout = .seconds(idleTimeout)
        config.maxConnections = maxConnections
        config.collections = collection.map { URL(fileURLWithPath: $0, isDirectory: true) }
        config.collectionsRoot = collectionsDir.map { URL(fileURLWithPath: $0, isDirectory: true) }
        config.artificialInferenceDelay = .milliseconds(debugInferenceDelayMs)

        let served: ServedModel
        let precision = modelOptions.resolvedPrecision
        if let modelURL {
            served = try ServedModel.load(model: modelURL, reranker: files?.reranker?.url, precision: precision)
        } else {
            served = ServedModel(model: RWKVModel(EmbeddingModelWeights.random(architecture: randomShape!.architecture, seed: 1),
                                                  precision: precision))
        }
        var logger = Logger(label: "rwkv-emb.server")
        logger.logLevel = .notice
        let server = try EmbeddingServer(served: served, config: config, logger: logger)
        let host = self.host
        try await server.run { port in
            // Machine-readable first line: tests and scripts read the bound port from it.
            writeToStandardOutput("listening on http://\(host):\(port)\n")
        }
    }
}
