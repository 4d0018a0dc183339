import AsyncHTTPClient
import EmbeddingRWKV
import Foundation
import NIOCore
import NIOHTTP1
import RWKVServer
import RWKVTestSupport
import ServiceLifecycle
import Testing

/// The tiny-bf16 fixture model (embedding + reranker), loaded once per test process.
enum FixtureModel {
    static let served: ServedModel = {
        do {
            return try ServedModel.load(model: Fixtures.embeddingCheckpoint("tiny-bf16"),
                                        reranker: Fixtures.rerankerCheckpoint("tiny-bf16"))
        } catch {
            fatalError("cannot load the tiny-bf16 fixture: \(error)")
        }
    }()

    static let embeddingOnly: ServedModel = {
        ServedModel(model: served.model, tokenizer: served.tokenizer, reranker: nil, checkpointDTypes: served.checkpointDTypes)
    }()
}

/// A real server on 127.0.0.1 (ephemeral port) running in this process, and a real HTTP client.
final class TestServer: @unchecked Sendable {
    let group: ServiceGroup
    let task: Task<Void, any Error>
    let port: Int
    let server: EmbeddingServer

    static func start(served: ServedModel = FixtureModel.served,
                      _ configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> TestServer {
        var config = ServerConfiguration()
        config.host = "127.0.0.1"
        config.port = 0
        config.modelID = "tiny-bf16"
        configure(&config)
        let server = try EmbeddingServer(served: served, config: config)
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let group = server.makeServiceGroup(signals: []) { port in continuation.yield(port) }
        let task = Task { try await group.run() }
        var port = 0
        for await p in stream { port = p; break }
        return TestServer(group: group, task: task, port: port, server: server)
    }

    private init(group: ServiceGroup, task: Task<Void, any Error>, port: Int, server: EmbeddingServer) {
        self.group = group
        self.task = task
        self.port = port
        self.server = server
    }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }

    var base: String { "http://127.0.0.1:\(port)" }

    struct Reply: Sendable {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        var body: Data

        func json() throws -> Any { try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    func post(_ path: String, json: Any, headers: [(String, String)] = []) async throws -> Reply {
        try await post(path, body: try JSONSerialization.data(withJSONObject: json), headers: headers)
    }

    func post(_ path: String, body: Data, headers: [(String, String)] = []) async throws -> Reply {
        try await send(.POST, path, body: body, headers: headers)
    }

    func get(_ path: String, headers: [(String, String)] = []) async throws -> Reply {
        try await send(.GET, path, body: nil, headers: headers)
    }

    func send(_ method: HTTPMethod, _ path: String, body: Data?, headers: [(String, String)] = []) async throws -> Reply {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
            request.headers.add(name: "content-type", value: "application/json")
        }
        for (k, v) in headers { request.headers.add(name: k, value: v) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let buffer = try await response.body.collect(upTo: 64 << 20)
        return Reply(status: response.status, headers: response.headers, body: Data(buffer.readableBytesView))
    }
}

/// The engine's own answer for one text (the ground truth the server must reproduce).
func engineEmbedding(_ text: String, task: EmbeddingTask = .retrieval, inputProtocol: InputProtocol = .single,
                     normalize: Bool = true) throws -> [Float] {
    let served = FixtureModel.served
    let tokens = inputProtocol.input(for: served.tokenizer.encode(text, addEOS: false))
    return try served.model.embed([tokens], task: task, normalize: normalize)[0]
}

func floats(_ any: Any?) -> [Float]? {
    (any as? [Any])?.compactMap { ($0 as? NSNumber)?.floatValue }
}

/// The value of one Prometheus series line (`name{labels} value`), or nil.
func metricValue(_ exposition: String, _ series: String) -> Double? {
    for line in exposition.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1).trimmingCharacters(in: .whitespaces))
    }
    return nil
}

/// A request to any loopback server by port (for servers in child processes).
enum TestHTTP {
    static func send(port: Int, path: String, body: Data) async throws -> (status: Int, body: Data) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = .POST
        request.body = .bytes(ByteBuffer(bytes: body))
        request.headers.add(name: "content-type", value: "application/json")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let buffer = try await response.body.collect(upTo: 64 << 20)
        return (Int(response.status.code), Data(buffer.readableBytesView))
    }
}

/// Polls a server's `/metrics` until `rwkv_emb_http_requests_received{route="<route>"}` reaches `count` (so that a
/// request is known to be in flight before a shutdown is triggered), for at most `timeout` seconds.
func waitUntilReceived(port: Int, route: String, count: Double = 1, timeout: Double = 20) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics")
        request.method = .GET
        if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(5)),
           let body = try? await response.body.collect(upTo: 16 << 20),
           let value = metricValue(String(decoding: body.readableBytesView, as: UTF8.self), "rwkv_emb_http_requests_received{route=\"\(route)\"}"),
           value >= count {
            return
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("the server did not receive a request to \(route) in time")
}
