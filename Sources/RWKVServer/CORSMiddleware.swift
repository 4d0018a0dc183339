import Hummingbird

/// Cross-origin requests from browsers (`--cors-allow-origin`). Like TEI, any origin by default;
/// with a list, only those origins get `Access-Control-Allow-Origin` (echoed, with `Vary: Origin`).
/// Outermost, so that error responses (401, 422, ...) carry the headers too and preflight
/// `OPTIONS` requests are answered before authentication (browsers send them without credentials).
struct CORSMiddleware<Context: RequestContext>: RouterMiddleware {
    /// nil: any origin.
    let allowedOrigins: [String]?

    static var allowMethods: String { "GET, POST, PUT, DELETE, OPTIONS" }
    static var allowHeaders: String { "content-type, authorization" }

    func allowOrigin(for origin: String) -> String? {
        guard let allowedOrigins, !allowedOrigins.contains("*") else { return "*" }
        return allowedOrigins.contains(origin) ? origin : nil
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[HeaderName("origin")!] else { return try await next(request, context) }
        let allowed = allowOrigin(for: origin)
        if request.method == .options, request.headers[HeaderName("access-control-request-method")!] != nil {
            var headers = HTTPFields()
            if let allowed {
                headers[HeaderName("access-control-allow-origin")!] = allowed
                headers[HeaderName("access-control-allow-methods")!] = Self.allowMethods
                headers[HeaderName("access-control-allow-headers")!] = Self.allowHeaders
                headers[HeaderName("access-control-max-age")!] = "3600"
            }
            if allowed != "*" { headers[HeaderName("vary")!] = "Origin" }
            return Response(status: allowed == nil ? .forbidden : .noContent, headers: headers)
        }
        var response = try await next(request, context)
        if let allowed {
            response.headers[HeaderName("access-control-allow-origin")!] = allowed
            response.headers[HeaderName("access-control-expose-headers")!] =
                "x-compute-type, x-compute-time, x-compute-characters, x-compute-tokens, x-total-time, x-tokenization-time, x-queue-time, x-inference-time"
        }
        if allowed != "*" { response.headers[HeaderName("vary")!] = "Origin" }
        return response
    }
}
