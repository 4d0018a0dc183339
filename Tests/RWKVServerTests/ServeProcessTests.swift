import Foundation
import RWKVTestSupport
import Testing

/// `rwkv-emb serve` as a child process: SIGTERM during an in-flight request lets it complete,
/// and the process exits 0.
extension SerialServerSuites {
@Suite(.serialized) struct ServeProcessTests {
    static var executable: URL? { cliExecutable() }

    @Test(.enabled(if: ServeProcessTests.executable != nil, "rwkv-emb is not built"))
    func sigtermFinishesInFlightRequestAndExitsZero() async throws {
        let executable = try #require(Self.executable)
        let process = Process()
        process.executableURL = executable
        process.arguments = ["serve", "--model", Fixtures.embeddingCheckpoint("tiny-bf16").path,
                             "--host", "127.0.0.1", "--port", "0", "--model-id", "tiny", "--debug-inference-delay-ms", "1500"]
        let stdout = Pipe()
        process.standardOutput = stdout
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        let line = try await Self.firstLine(of: stdout.fileHandleForReading, timeout: 60)
        let port = try #require(line.split(separator: ":").last.flatMap { Int($0) }, "unexpected first line: \(line)")

        let inFlight = Task { try await TestHTTP.send(port: port, path: "/embed", body: Data(#"{"inputs": "finish me"}"#.utf8)) }
        try await waitUntilReceived(port: port, route: "/embed")
        kill(process.processIdentifier, SIGTERM)

        let reply = try await inFlight.value
        #expect(reply.status == 200, "\(String(decoding: reply.body, as: UTF8.self))")
        let status = try await Self.waitForExit(process, timeout: 30)
        #expect(status == 0)
        #expect(process.terminationReason == .exit)
    }

    /// `rwkv-emb loadtest` against a server in this process: a short bounded run prints its figures.
    @Test(.enabled(if: ServeProcessTests.executable != nil, "rwkv-emb is not built"))
    func loadTestCommandReportsFigures() async throws {
        let executable = try #require(Self.executable)
        let server = try await TestServer.start()
        defer { Task { try? await server.stop() } }
        let process = Process()
        process.executableURL = executable
        process.arguments = ["loadtest", "--url", server.base, "--concurrency", "4", "--duration", "1", "--max-requests", "200"]
        let stdout = Pipe()
        process.standardOutput = stdout
        try process.run()
        let output = try await Self.readAll(stdout.fileHandleForReading)
        let status = try await Self.waitForExit(process, timeout: 60)
        #expect(status == 0, "\(output)")
        #expect(output.contains("requests/s:"), "\(output)")
        #expect(output.contains("latency ms: p50"), "\(output)")
        #expect(output.contains("responses by status: 200: "), "\(output)")
        #expect(output.contains("5xx: 0"), "\(output)")
    }

    static func readAll(_ handle: FileHandle) async throws -> String {
        await withCheckedContinuation { (c: CheckedContinuation<String, Never>) in
            DispatchQueue.global().async { c.resume(returning: String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)) }
        }
    }

    static func firstLine(of handle: FileHandle, timeout: Double) async throws -> String {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<String, any Error>) in
            DispatchQueue.global().async {
                var bytes: [UInt8] = []
                let deadline = Date().addingTimeInterval(timeout)
                while Date() < deadline {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    bytes += chunk
                    if let nl = bytes.firstIndex(of: 10) {
                        c.resume(returning: String(decoding: bytes[..<nl], as: UTF8.self))
                        return
                    }
                }
                c.resume(throwing: CocoaError(.fileReadUnknown))
            }
        }
    }

    static func waitForExit(_ process: Process, timeout: Double) async throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        guard !process.isRunning else { throw CocoaError(.executableLoad) }
        return process.terminationStatus
    }
}
}
