import Foundation
import RWKVServer
import Testing
import RWKVTestSupport

/// Dynamic batching, overload and graceful shutdown.
extension SerialServerSuites {
@Suite(.serialized) struct LoadBehaviourTests {
    /// Many parallel requests coalesce into shared forward passes and give the single-call vectors.
    @Test func concurrentRequestsCoalesceAndMatchSingleCalls() async throws {
        // A short pause before each batch lets concurrent requests pile up, as under real load.
        let server = try await TestServer.start { $0.artificialInferenceDelay = .milliseconds(30) }
        defer { Task { try? await server.stop() } }
        let texts = (0..<40).map { i in String(repeating: "token\(i) ", count: 1 + i % 7) }
        let expected = try texts.map { try engineEmbedding($0) }

        let results = try await withThrowingTaskGroup(of: (Int, [Float]?).self) { group in
            for (i, text) in texts.enumerated() {
                group.addTask {
                    let r = try await server.post("/embed", json: ["inputs": text])
                    return (i, floats((try? r.json() as? [Any])?.first))
                }
            }
            var out = [[Float]?](repeating: nil, count: texts.count)
            for try await (i, v) in group { out[i] = v }
            return out
        }
        for (i, v) in results.enumerated() {
            let got = try #require(v, "request \(i) failed")
            #expect(maxAbsDiff(got, expected[i]) < 1e-5, "request \(i)")
        }
        let metrics = try await server.get("/metrics").text
        let passes = try #require(metricValue(metrics, "te_batch_next_requests_count"))
        let singles = try #require(metricValue(metrics, #"te_batch_next_requests_bucket{le="1.0"}"#))
        #expect(passes < Double(texts.count), "requests were not coalesced: \(passes) passes")
        #expect(singles < passes, "no forward pass served more than one request")
    }

    /// Beyond --max-concurrent-requests: 429, never 5xx.
    @Test func overloadAnswers429() async throws {
        let server = try await TestServer.start { config in
            config.maxConcurrentRequests = 2
            config.artificialInferenceDelay = .milliseconds(150)
        }
        defer { Task { try? await server.stop() } }
        let replies = try await withThrowingTaskGroup(of: TestServer.Reply.self) { group in
            for i in 0..<12 {
                group.addTask { try await server.post("/embed", json: ["inputs": "overload \(i)"]) }
            }
            var s: [TestServer.Reply] = []
            for try await reply in group { s.append(reply) }
            return s
        }
        let statuses = replies.map { Int($0.status.code) }
        for reply in replies where reply.status == .tooManyRequests {
            #expect(reply.headers.first(name: "retry-after") == "1")
            #expect(((try reply.json() as? [String: Any])?["error_type"] as? String) == "Overloaded")
        }
        #expect(statuses.allSatisfy { $0 == 200 || $0 == 429 }, "\(statuses)")
        #expect(statuses.contains(429), "\(statuses)")
        #expect(statuses.contains(200), "\(statuses)")
        let health = try await server.get("/health")
        #expect(health.status == .ok)
    }

    /// A graceful shutdown (as on SIGTERM) lets an in-flight request finish.
    @Test func gracefulShutdownFinishesInFlightRequest() async throws {
        let server = try await TestServer.start { $0.artificialInferenceDelay = .milliseconds(1000) }
        let request = Task { try await server.post("/embed", json: ["inputs": "finish me"]) }
        try await waitUntilReceived(port: server.port, route: "/embed")
        try await server.stop()
        let reply = try await request.value
        #expect(reply.status == .ok, "\(reply.text)")
        #expect(((try reply.json() as? [[Any]])?.count) == 1)
    }
}
}
