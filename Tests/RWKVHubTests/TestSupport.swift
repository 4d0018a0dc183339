import Foundation
@testable import RWKVHub

/// A temporary HF_HOME (never the real ~/.cache) and helpers to build environments around it.
final class TemporaryHome: @unchecked Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("rwkv-hub-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    var hubCache: URL { url.appendingPathComponent("hub", isDirectory: true) }

    /// HF_HOME here, the endpoint given (default: a closed port, so any network use fails fast).
    func environment(endpoint: URL? = nil, _ extra: [String: String] = [:]) -> HubEnvironment {
        var variables = ["HF_HOME": url.path, "HOME": url.path,
                         "HF_ENDPOINT": (endpoint ?? URL(string: "http://127.0.0.1:9")!).absoluteString]
        variables.merge(extra) { $1 }
        return HubEnvironment(variables)
    }

    /// The default (closed-port) endpoint with extra variables.
    func environment(offlineExtra extra: [String: String]) -> HubEnvironment {
        environment(endpoint: nil, extra)
    }
}

/// Deterministic pseudo-random bytes.
func generatedBytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return UInt8(truncatingIfNeeded: state)
    }
}

/// Retry quickly in tests.
func fastConfiguration(attempts: Int = 1) -> DownloadConfiguration {
    var configuration = DownloadConfiguration()
    configuration.maxAttempts = attempts
    configuration.retryDelay = 0
    // Generous bounds: only a failing test waits for them. CI runs the heavy engine tests alongside on
    // 2 cores, and a 30 s read bound once fired there (stop 19: a loopback transfer of 3 MB timed out
    // while the engine suites held both cores and the cooperative pool for ~4 minutes).
    configuration.connectTimeout = 120
    configuration.readTimeout = 300
    configuration.metadataTimeout = 300
    configuration.lockTimeout = 300
    return configuration
}

func readLink(_ url: URL) -> String? {
    try? FileManager.default.destinationOfSymbolicLink(atPath: url.path)
}

func bytes(_ url: URL) -> [UInt8]? {
    (try? Data(contentsOf: url)).map(Array.init)
}

/// Collects download events.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [DownloadEvent] = []
    var all: [DownloadEvent] { lock.lock(); defer { lock.unlock() }; return events }
    var handler: DownloadProgressHandler { { event in self.lock.lock(); self.events.append(event); self.lock.unlock() } }
}
