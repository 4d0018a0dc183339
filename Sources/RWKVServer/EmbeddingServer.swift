import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import UnixSignals

/// Process-wide facts the routes read (start time, shutdown in progress).
final class ServerState: Sendable {
    static let startTime = Date()
    private let shuttingDown = NIOLockedValueBox(false)

    var isShuttingDown: Bool { shuttingDown.withLockedValue { $0 } }
    func beginShutdown() { shuttingDown.withLockedValue { $0 = true } }
}

/// The HTTP service: builds the router (routes per API family behind error, auth and concurrency
/// middleware), the inference batcher and the services that run them under one `ServiceGroup`.
public struct EmbeddingServer: Sendable {
    public let config: ServerConfiguration
    public let served: ServedModel
    public let metrics: ServerMetrics
    let batcher: InferenceBatcher
    let state = ServerState()
    let logger: Logger
    let collections: CollectionRegistry

    /// Opens the configured collections (creating empty ones), so that a bad folder fails at start.
    public init(served: ServedModel, config: ServerConfiguration, logger: Logger = Logger(label: "rwkv-emb.server")) throws {
        self.config = config
        self.served = served
        self.logger = logger
        metrics = ServerMetrics()
        batcher = InferenceBatcher(served: served, config: config, metrics: metrics)
        collections = CollectionRegistry(root: config.collectionsRoot, models: served.retrieval)
        try collections.openAll(paths: config.collections)
    }

    /// The router with every route and middleware.
    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: CORSMiddleware<BasicRequestContext>(allowedOrigins: config.corsAllowOrigins))
        router.add(middleware: ErrorMiddleware<BasicRequestContext>(metrics: metrics, logger: logger))
        router.add(middleware: PayloadLimitMiddleware<BasicRequestContext>(limit: config.payloadLimit))
        if !config.acceptedKeys.isEmpty { router.add(middleware: AuthMiddleware<BasicRequestContext>(keys: config.acceptedKeys)) }
        router.add(middleware: ConcurrencyLimitMiddleware<BasicRequestContext>(limit: config.maxConcurrentRequests, inFlight: NIOLockedValueBox(0)))
        let service = EmbeddingService(served: served, config: config, metrics: metrics, batcher: batcher)
        let collections = self.collections
        let metrics = self.metrics
        TEIRoutes(service: service, state: state).register(on: router) {
            for name in collections.names {
                guard let stats = try? collections.get(name).stats() else { continue }
                metrics.setCollection(name: name, stats: stats)
            }
        }
        OpenAIRoutes(service: service).register(on: router)
        DocsRoutes().register(on: router)
        CollectionRoutes(registry: collections, batcher: batcher, config: config, tokenizer: served.tokenizer, metrics: metrics).register(on: router)
        return router
    }

    /// The services of one server run; `onListening` gets the bound port (useful with port 0).
    /// Graceful shutdown (a signal in `signals`, or `triggerGracefulShutdown()`) stops accepting
    /// connections, finishes in-flight requests, then drains the batcher.
    public func makeServiceGroup(signals: [UnixSignal] = [.sigterm, .sigint],
                                 onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> ServiceGroup {
        let readTimeout = config.requestReadTimeout
        let app = Application(
            router: makeRouter(),
            server: .http1(configuration: .init(
                additionalChannelHandlers: [RequestReadDeadlineHandler(timeout: .init(readTimeout))],
                idleTimeout: .init(config.idleTimeout))),
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "rwkv-emb",
                                 availableConnectionsDelegate: connectionLimit(config.maxConnections)),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        let services: [any Service] = [
            CollectionsService(registry: collections),
            BatcherService(batcher: batcher),
            app,
            ShutdownNotifier(state: state),
        ]
        return ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                 gracefulShutdownSignals: signals, logger: logger))
    }

    /// Runs until SIGTERM/SIGINT, then shuts down gracefully.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await makeServiceGroup(onListening: onListening).run()
    }
}

/// Starts the inference worker; on graceful shutdown (after the HTTP server has finished its
/// requests) lets it finish the queue and stop.
struct BatcherService: Service {
    let batcher: InferenceBatcher

    func run() async throws {
        batcher.start()
        try? await gracefulShutdown()
        await batcher.shutdown()
    }
}

/// Last to stop: after the batcher has drained, releases the collections (every write is durable
/// when its request is answered; this drops the write locks).
struct CollectionsService: Service {
    let registry: CollectionRegistry

    func run() async throws {
        try? await gracefulShutdown()
        registry.closeAll()
    }
}

/// The first service told of a graceful shutdown: marks the server unhealthy.
struct ShutdownNotifier: Service {
    let state: ServerState

    func run() async throws {
        try? await gracefulShutdown()
        state.beginShutdown()
    }
}
