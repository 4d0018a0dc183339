import Foundation
import RWKVRetrieval
@testable import RWKVServer
import RWKVTestSupport
import Testing

/// The collection routes on a nearly full file system (a real tmpfs): 507 Insufficient Storage for
/// the write that does not fit, every earlier acknowledged document intact, searches still served.
@Suite struct FullDiskRouteTests {
    @Test(.enabled(if: Tmpfs.unavailableReason == nil, "mounting a tmpfs needs root (CAP_SYS_ADMIN); see Tmpfs.unavailableReason"))
    func addAnswers507AndSearchGoesOn() async throws {
        let fs = try Tmpfs(megabytes: 16)
        let server = try await TestServer.start { $0.collectionsRoot = fs.url }
        let created = try await server.post("/collections", json: ["name": "docs"])
        #expect(created.status == .created, "\(created.text)")
        let first = try await server.post("/collections/docs/documents", json: ["documents": [["id": "seed", "text": "RWKV is a recurrent network."]]])
        #expect(first.status == .ok, "\(first.text)")
        let filler = try fs.fill(leaving: 1536 << 10)  // a few batches of 4 (68 KB of state per document) fit
        var acknowledged: [String] = ["seed"]
        var full: TestServer.Reply?
        for batch in 0..<200 {
            let docs = (0..<4).map { ["id": "b\(batch)-\($0)", "text": "Document \($0) of batch \(batch): bananas, rivers and recurrent networks."] }
            let reply = try await server.post("/collections/docs/documents", json: ["documents": docs])
            if reply.status == .ok {
                acknowledged += docs.map { $0["id"]! }
                continue
            }
            full = reply
            break
        }
        let reply = try #require(full, "200 batches fitted into \(fs.freeBytes) free bytes")
        #expect(acknowledged.count > 1, "not one batch fitted")
        #expect(reply.status.code == 507, "\(reply.status) \(reply.text)")
        #expect(reply.text.contains("no space left"), "\(reply.text)")
        #expect((try reply.json() as? [String: Any])?["error_type"] as? String == "Backend")
        // Searches are still served, over every acknowledged document.
        let search = try await server.post("/collections/docs/search", json: ["query": "bananas", "top_k": 3])
        #expect(search.status == .ok, "\(search.text)")
        let info = try await server.get("/collections/docs")
        #expect((try info.json() as? [String: Any])?["documents"] as? Int == acknowledged.count, "\(info.text)")
        let metrics = try await server.get("/metrics")
        #expect(metricValue(metrics.text, #"te_request_failure{err="storage_full"}"#) == 1, "\(metrics.text)")
        // Space back: the same write succeeds.
        try FileManager.default.removeItem(at: filler)
        let retry = try await server.post("/collections/docs/documents",
                                          json: ["documents": [["id": "after", "text": "Written once space was free again."]]])
        #expect(retry.status == .ok, "\(retry.text)")
        try await server.stop()
        let c = try DocumentCollection.open(at: fs.url.appendingPathComponent("docs"), models: nil)
        #expect(Set(c.list().map(\.id)) == Set(acknowledged + ["after"]))
        #expect(try DocumentCollection.verify(at: c.url).isClean)
    }

    @Test func forbiddenIsItsOwnKindAndCounted() async throws {
        let server = try await TestServer.start { $0.apiKeys = [APIKey(secret: "r", scopes: [.read])] }
        let reply = try await server.post("/collections", json: ["name": "x"], headers: [("authorization", "Bearer r")])
        #expect(reply.status == .forbidden)
        #expect((try reply.json() as? [String: Any])?["error"] as? String != nil)
        let wrong = try await server.post("/embed", json: ["inputs": "x"], headers: [("authorization", "Bearer nope")])
        #expect(wrong.status == .unauthorized)
        let metrics = try await server.get("/metrics")
        #expect(metricValue(metrics.text, #"te_request_failure{err="forbidden"}"#) == 1, "\(metrics.text)")
        #expect(metricValue(metrics.text, #"te_request_failure{err="unauthorized"}"#) == 1, "\(metrics.text)")
        #expect(APIErrorKind.forbidden.status.code == 403 && APIErrorKind.storageFull.status.code == 507)
        try await server.stop()
    }
}
