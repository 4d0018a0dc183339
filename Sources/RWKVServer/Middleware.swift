import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers

/// Outermost middleware: renders every error as the JSON body of its API family (TEI, OpenAI or
/// Jina/Cohere rerank), counts requests per route and failures per kind, and records request durations.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let route = Self.routeLabel(request.uri.path)
        let start = ContinuousClock.now
        metrics.countReceived(route: route)
        do {
            let response = try await next(request, context)
            metrics.countResponse(route: route, status: response.status.code)
            metrics.requestDuration.record(ContinuousClock.now - start)
            return response
        } catch {
            let apiError = APIError.from(error)
            metrics.countFailure(kind: apiError.kind)
            if apiError.kind == .backend {
                logger.error("\(request.method) \(request.uri.path): \(apiError.message)")
            }
            let family = APIFamily.of(path: request.uri.path)
            var headers: HTTPFields = [.contentType: "application/json"]
            if apiError.kind == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
            if apiError.kind == .overloaded || apiError.kind == .unavailable { headers[.retryAfter] = "1" }
            let status = apiError.kind.status(for: family)
            metrics.countResponse(route: route, status: status.code)
            return Response(status: status, headers: headers,
                            body: .init(byteBuffer: ByteBuffer(bytes: family.body(for: apiError))))
        }
    }

    /// A bounded label set for the per-route counters.
    static func routeLabel(_ path: String) -> String {
        let known: Set<String> = ["/", "/embed", "/embed_all", "/embeddings", "/similarity", "/predict", "/invocations",
                                  "/rerank", "/tokenize", "/decode", "/info", "/health", "/ping", "/metrics",
                                  "/v1/embeddings", "/v1/models", "/v1/rerank", "/v2/rerank", "/docs", "/api-doc/openapi.json"]
        if known.contains(path) { return path }
        if path.hasPrefix("/collections") { return "/collections" }
        return "other"
    }
}

/// Bearer authentication with scoped keys: the public routes (`RouteAccess.publicPaths`) need none;
/// every other route needs a key holding its scope (401 without a known key, 403 without the scope).
/// The presented token is compared with every key in constant time, so neither the time nor the
/// order of the keys tells how much of a secret was right.
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let keys: [APIKey]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let scope = RouteAccess.requiredScope(method: request.method.rawValue, path: request.uri.path) else {
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization] else {
            throw APIError(.unauthorized, "missing API key: send `Authorization: Bearer <key>`")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", let key = APIKey.match(Array(parts[1].utf8), in: keys) else {
            throw APIError(.unauthorized, "invalid API key")
        }
        guard key.scopes.contains(scope) else {
            throw APIError(.forbidden, "this API key lacks the '\(scope.rawValue)' scope that \(request.method) \(request.uri.path) needs "
                           + "(it has: \(key.scopes.sorted().map(\.rawValue).joined(separator: ", ")))")
        }
        return try await next(request, context)
    }
}

/// Answers 429 beyond `limit` requests in flight (the inference routes only: `/health`, `/info`
/// and `/metrics` stay responsive under overload).
struct ConcurrencyLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    let limit: Int
    let inFlight: NIOLockedValueBox<Int>

    static var exempt: Set<String> { ["/health", "/ping", "/info", "/metrics", "/v1/models", "/docs", "/api-doc/openapi.json"] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.exempt.contains(request.uri.path) { return try await next(request, context) }
        let admitted = inFlight.withLockedValue { n -> Bool in
            guard n < limit else { return false }
            n += 1
            return true
        }
        guard admitted else {
            throw APIError(.overloaded, "model is overloaded: more than \(limit) concurrent requests")
        }
        defer { inFlight.withLockedValue { $0 -= 1 } }
        return try await next(request, context)
    }
}
