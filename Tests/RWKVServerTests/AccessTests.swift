import Foundation
import NIOHTTP1
@testable import RWKVServer
import Testing
import RWKVTestSupport

/// Scoped API keys against a real server on loopback: every route with every key.
@Suite struct AccessTests {
    /// One request and the scope its route needs (nil: public).
    struct Route: CustomStringConvertible, Sendable {
        var method: HTTPMethod
        var path: String
        var body: String?
        var scope: APIScope?
        var description: String { "\(method) \(path)" }
    }

    static let routes: [Route] = [
        .init(method: .GET, path: "/health", scope: nil),
        .init(method: .GET, path: "/ping", scope: nil),
        .init(method: .GET, path: "/metrics", scope: nil),
        .init(method: .GET, path: "/docs", scope: nil),
        .init(method: .GET, path: "/api-doc/openapi.json", scope: nil),
        .init(method: .POST, path: "/embed", body: #"{"inputs": "a state"}"#, scope: .read),
        .init(method: .POST, path: "/rerank", body: #"{"query": "q", "texts": ["a", "b"]}"#, scope: .read),
        .init(method: .POST, path: "/tokenize", body: #"{"inputs": "Hello"}"#, scope: .read),
        .init(method: .POST, path: "/decode", body: #"{"ids": [33155]}"#, scope: .read),
        .init(method: .GET, path: "/info", scope: .read),
        .init(method: .POST, path: "/v1/embeddings", body: #"{"input": "a"}"#, scope: .read),
        .init(method: .GET, path: "/v1/models", scope: .read),
        .init(method: .POST, path: "/v1/rerank", body: #"{"query": "q", "documents": ["a"]}"#, scope: .read),
        .init(method: .GET, path: "/collections", scope: .read),
        .init(method: .GET, path: "/collections/docs", scope: .read),
        .init(method: .POST, path: "/collections/docs/search", body: #"{"query": "what is RWKV", "top_k": 1}"#, scope: .read),
        .init(method: .POST, path: "/collections/docs/documents", body: #"{"documents": [{"id": "a", "text": "RWKV is an RNN"}]}"#, scope: .write),
        .init(method: .PUT, path: "/collections/docs/documents/a", body: #"{"text": "RWKV is a recurrent network"}"#, scope: .write),
        .init(method: .POST, path: "/collections/docs/documents/delete", body: #"{"ids": ["nope"]}"#, scope: .write),
        .init(method: .DELETE, path: "/collections/docs/documents/a", scope: .write),
        .init(method: .POST, path: "/collections/docs/compact", body: #"{}"#, scope: .write),
        .init(method: .POST, path: "/collections", body: #"{"name": "made"}"#, scope: .admin),
        .init(method: .DELETE, path: "/collections/made", scope: .admin),
    ]

    nonisolated(unsafe) static let keys: [(name: String, key: APIKey)] = [
        ("reader", APIKey(secret: "r-secret", scopes: [.read])),
        ("writer", APIKey(secret: "w-secret", scopes: [.write])),
        ("admin", APIKey(secret: "a-secret", scopes: [.admin])),
        ("reader+writer", APIKey(secret: "rw-secret", scopes: [.read, .write])),
    ]

    @Test func everyScopeOnEveryRoute() async throws {
        let root = try TemporaryDirectory()
        defer { root.cleanUp() }
        let server = try await TestServer.start {
            $0.collectionsRoot = root.url
            $0.apiKey = "all-secret"
            $0.apiKeys = Self.keys.map(\.key)
        }
        let all = [("authorization", "Bearer all-secret")]
        let created = try await server.post("/collections", json: ["name": "docs"], headers: all)
        #expect(created.status == .created, "\(created.text)")

        for route in Self.routes {
            let body = route.body.map { Data($0.utf8) }
            let anonymous = try await server.send(route.method, route.path, body: body)
            if route.scope == nil {
                #expect(anonymous.status != .unauthorized && anonymous.status != .forbidden, "\(route) is public: \(anonymous.status)")
                continue
            }
            #expect(anonymous.status == .unauthorized, "\(route) without a key: \(anonymous.status)")
            let wrong = try await server.send(route.method, route.path, body: body, headers: [("authorization", "Bearer r-secreT")])
            #expect(wrong.status == .unauthorized, "\(route) with a wrong key: \(wrong.status)")
            for (name, key) in Self.keys {
                let reply = try await server.send(route.method, route.path, body: body,
                                                  headers: [("authorization", "Bearer \(key.secret)")])
                if key.scopes.contains(route.scope!) {
                    #expect(reply.status != .unauthorized && reply.status != .forbidden, "\(route) with \(name): \(reply.status) \(reply.text)")
                } else {
                    #expect(reply.status == .forbidden, "\(route) with \(name): \(reply.status)")
                    #expect(reply.text.contains("'\(route.scope!.rawValue)' scope"), "\(reply.text)")
                }
            }
            let full = try await server.send(route.method, route.path, body: body, headers: all)
            #expect(full.status != .unauthorized && full.status != .forbidden, "\(route) with the all-scope key: \(full.status)")
        }
        // The routes really ran for the keys that may use them: the admin's collection was made and deleted again.
        #expect(FileManager.default.fileExists(atPath: root.path("docs").path))
        #expect(!FileManager.default.fileExists(atPath: root.path("made").path))
        try await server.stop()
    }

    @Test func forbiddenBodiesFollowTheAPIFamily() async throws {
        let server = try await TestServer.start { $0.apiKeys = [APIKey(secret: "w", scopes: [.write])] }
        let tei = try await server.post("/embed", json: ["inputs": "x"], headers: [("authorization", "Bearer w")])
        #expect(tei.status == .forbidden)
        #expect((try tei.json() as? [String: Any])?["error"] is String)
        let openAI = try await server.post("/v1/embeddings", json: ["input": "x"], headers: [("authorization", "Bearer w")])
        #expect(openAI.status == .forbidden)
        #expect((try openAI.json() as? [String: Any])?["error"] is [String: Any])
        try await server.stop()
    }

    @Test func routeScopes() {
        #expect(RouteAccess.requiredScope(method: "GET", path: "/health") == nil)
        #expect(RouteAccess.requiredScope(method: "GET", path: "/metrics/") == nil)
        #expect(RouteAccess.requiredScope(method: "POST", path: "/embed") == .read)
        #expect(RouteAccess.requiredScope(method: "POST", path: "/collections") == .admin)
        #expect(RouteAccess.requiredScope(method: "GET", path: "/collections/") == .read)
        #expect(RouteAccess.requiredScope(method: "DELETE", path: "/collections/x") == .admin)
        #expect(RouteAccess.requiredScope(method: "POST", path: "/collections/x/search") == .read)
        #expect(RouteAccess.requiredScope(method: "GET", path: "/collections/x/documents/a") == .read)
        #expect(RouteAccess.requiredScope(method: "PUT", path: "/collections/x/documents/a") == .write)
        #expect(RouteAccess.requiredScope(method: "POST", path: "/collections/x/merge") == .write)
    }

    @Test func keyArguments() throws {
        #expect(try APIKey(parsing: "k") == APIKey(secret: "k", scopes: [.read, .write, .admin]))
        #expect(try APIKey(parsing: "k:read, write") == APIKey(secret: "k", scopes: [.read, .write]))
        #expect(try APIKey(parsing: "a:b:admin") == APIKey(secret: "a:b", scopes: [.admin]))
        #expect(throws: APIKeyError.unknownScope("search")) { try APIKey(parsing: "k:search") }
        #expect(throws: APIKeyError.emptyKey) { try APIKey(parsing: ":read") }
        #expect(throws: APIKeyError.emptyKey) { try APIKey(parsing: "  ") }

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString).txt")
        defer { try? FileManager.default.removeItem(at: file) }
        try "# browser app\nbrowser:read\n\nops:admin,write\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(try APIKey.load(contentsOf: file) == [APIKey(secret: "browser", scopes: [.read]),
                                                      APIKey(secret: "ops", scopes: [.admin, .write])])
        try "good\nbad:nope\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: APIKeyError.badLine(path: file.path, line: 2, reason: APIKeyError.unknownScope("nope").description)) {
            try APIKey.load(contentsOf: file)
        }
    }

    @Test func secretsCompareByValueOnly() {
        #expect(constantTimeEqual(Array("s3cret".utf8), "s3cret".utf8))
        #expect(!constantTimeEqual(Array("s3creT".utf8), "s3cret".utf8))
        #expect(!constantTimeEqual(Array("s3cre".utf8), "s3cret".utf8))
        #expect(!constantTimeEqual(Array("s3cret\0".utf8), "s3cret".utf8))
        #expect(!constantTimeEqual(Array("".utf8), "s3cret".utf8))
        #expect(constantTimeEqual(Array("".utf8), "".utf8))
        let keys = [APIKey(secret: "one", scopes: [.read]), APIKey(secret: "two", scopes: [.write])]
        #expect(APIKey.match(Array("two".utf8), in: keys)?.scopes == [.write])
        #expect(APIKey.match(Array("three".utf8), in: keys) == nil)
    }
}
