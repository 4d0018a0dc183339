import Foundation
#if canImport(Glibc)
import Glibc
#endif
import RWKVServer
import Testing

/// A blocking TCP connection to a loopback port (raw bytes, so a test can send half a request).
final class RawConnection: @unchecked Sendable {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { close(fd); throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .ECONNREFUSED) }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    /// False once the server has closed the connection.
    @discardableResult
    func send(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// What arrives within `timeout` seconds, until the peer closes (`closed`) or the time is up.
    func receive(timeout: Double) -> (text: String, closed: Bool) {
        var received: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
            guard poll(&pfd, 1, left) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return (String(decoding: received, as: UTF8.self), true) }
            received += buffer[0..<n]
        }
        return (String(decoding: received, as: UTF8.self), false)
    }

    /// One whole response (its head and `Content-Length` body), or what arrived within `timeout` seconds.
    /// The server drains an unread body after answering, so it need not close the connection first.
    func receiveResponse(timeout: Double) -> String {
        var received: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline, !Self.holdsOneResponse(received) {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
            guard poll(&pfd, 1, left) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received += buffer[0..<n]
        }
        return String(decoding: received, as: UTF8.self)
    }

    static func holdsOneResponse(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let headEnd = text.range(of: "\r\n\r\n") else { return false }
        let length = text[..<headEnd.lowerBound].split(separator: "\r\n")
            .first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        return text[headEnd.upperBound...].utf8.count >= length
    }
}

/// Runs blocking socket work off the cooperative thread pool (the server in this process needs it).
func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}

/// Slow and idle clients against a real server: they lose their connections, others keep being served.
@Suite(.serialized) struct SlowClientTests {
    static let embedHead = "POST /embed HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"

    @Test func bodySentAByteASecondIsCutOffWhileOthersAreServed() async throws {
        let server = try await TestServer.start {
            $0.requestReadTimeout = .seconds(2)
            $0.idleTimeout = .seconds(30)
        }
        let body = #"{"inputs": "a body that arrives one byte at a time"}"#
        let slow = try RawConnection(port: server.port)
        let outcome = Task {
            try await offPool { () -> (closed: Bool, sent: Int, text: String, seconds: Double) in
                let start = Date()
                guard slow.send(Self.embedHead + "Content-Length: \(body.utf8.count)\r\n\r\n") else { return (true, 0, "", 0) }
                var sent = 0
                for byte in body {
                    // A byte every 250 ms: never idle long enough for the idle timeout, far too slow for the body.
                    let reply = slow.receive(timeout: 0.25)
                    if reply.closed { return (true, sent, reply.text, Date().timeIntervalSince(start)) }
                    guard slow.send(String(byte)) else { return (true, sent, "", Date().timeIntervalSince(start)) }
                    sent += 1
                }
                let reply = slow.receive(timeout: 5)
                return (reply.closed, sent, reply.text, Date().timeIntervalSince(start))
            }
        }
        // Meanwhile other clients are answered.
        for _ in 0..<3 {
            let reply = try await server.post("/embed", json: ["inputs": "a normal request"])
            #expect(reply.status == .ok)
        }
        let result = try await outcome.value
        #expect(result.closed, "the slow connection stayed open: \(result.text)")
        #expect(result.sent < body.utf8.count, "the whole body got through (\(result.sent) bytes)")
        #expect(result.seconds < 8, "closed after \(result.seconds) s (read timeout 2 s)")
        try await server.stop()
    }

    @Test func idleConnectionsAreClosedAndDoNotStarveOthers() async throws {
        let limit = 8
        let server = try await TestServer.start {
            $0.maxConnections = limit
            $0.idleTimeout = .seconds(1)
        }
        // Every connection slot held by a client that sends nothing.
        let idle = try (0..<limit).map { _ in try RawConnection(port: server.port) }
        try await Task.sleep(for: .milliseconds(200))
        let reply = try await server.post("/embed", json: ["inputs": "served once an idle slot closes"])
        #expect(reply.status == .ok)
        let closed = try await offPool { idle.map { $0.receive(timeout: 5).closed } }
        #expect(closed.allSatisfy { $0 }, "idle connections left open: \(closed)")
        try await server.stop()
    }

    @Test func manyIdleConnectionsBelowTheLimitLeaveRequestsServed() async throws {
        let server = try await TestServer.start { $0.maxConnections = 256 }
        let idle = try (0..<200).map { _ in try RawConnection(port: server.port) }
        for _ in 0..<3 {
            let reply = try await server.post("/embed", json: ["inputs": "still served"])
            #expect(reply.status == .ok)
        }
        #expect(idle.count == 200)
        try await server.stop()
    }

    /// What a server with a 1 KiB payload limit answers to `parts` sent in order on one connection: one
    /// whole response, within 30 s (a 5 s bound once passed with no answer yet while the whole suite held
    /// both cores; a passing run returns as soon as the response is in).
    func replyWithAPayloadLimit(to parts: [String]) async throws -> String {
        let server = try await TestServer.start { $0.payloadLimit = 1024 }
        let connection = try RawConnection(port: server.port)
        let reply = try await offPool { () -> String in
            for part in parts { connection.send(part) }
            return connection.receiveResponse(timeout: 30)
        }
        try await server.stop()
        return reply
    }

    @Test func declaredOversizedBodyIsRefusedBeforeItIsSent() async throws {
        // 100 MB announced, 10 bytes sent: the answer must come without the rest.
        let reply = try await replyWithAPayloadLimit(to: [Self.embedHead + "Content-Length: 100000000\r\n\r\n{\"inputs\":"])
        #expect(reply.hasPrefix("HTTP/1.1 413"), "\(reply)")
        #expect(reply.contains("payload limit"), "\(reply)")
    }

    @Test func chunkedBodyOverTheLimitIsRefusedAtTheLimit() async throws {
        // 2 KiB in 256-byte chunks, and no final chunk: the server must answer without waiting for the end.
        let chunk = "{" + String(repeating: " ", count: 255)
        let reply = try await replyWithAPayloadLimit(to: [Self.embedHead + "Transfer-Encoding: chunked\r\n\r\n"]
                                                         + Array(repeating: "100\r\n" + chunk + "\r\n", count: 8))
        #expect(reply.hasPrefix("HTTP/1.1 413"), "\(reply)")
    }
}
