import Hummingbird

/// Refuses a body whose declared `Content-Length` exceeds the payload limit with 413 before any of
/// it is read (a chunked body is cut at the limit by the routes' `collect(upTo:)`).
struct PayloadLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    let limit: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            throw APIError(.payloadTooLarge, "request body of \(declared) bytes exceeds the payload limit of \(limit) bytes")
        }
        return try await next(request, context)
    }
}
