import ArgumentParser
import AsyncHTTPClient
import EmbeddingRWKV
import Foundation
import NIOCore
import RWKVCheckpoint
import RWKVTokenizer
import RWKVSupport

/// `rwkv-emb loadtest`: N concurrent clients against a running server for T seconds (loopback
/// only); prints requests/s, tokens/s, latency percentiles and errors by status. With `--model`
/// it also measures the engine's bare batched throughput in the same run and prints the ratio.
struct LoadTest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadtest",
        abstract: "Drive concurrent clients against a running rwkv-emb server (loopback only).",
        discussion: """
            Each client sends one text per request (POST /embed, or /v1/embeddings with --openai) \
            back to back. Request loops are bounded by --duration and --max-requests. With --model, \
            the same texts are first run through the engine directly, batched --concurrency at a \
            time, and the server's token throughput is printed as a ratio of that.
            """
    )

    enum TextSize: String, ExpressibleByArgument, CaseIterable {
        case short, medium, long
        var bytes: ClosedRange<Int> {
            switch self {
            case .short: 40...120
            case .medium: 400...800
            case .long: 2000...4000
            }
        }
    }

    @Option(help: "Server base URL (loopback only).")
    var url = "http://\(Serve.defaults.host):\(Serve.defaults.port)"

    @Option(help: "Concurrent clients.")
    var concurrency = 32

    @Option(help: "Seconds to run.")
    var duration: Double = 10

    @Option(help: "Text sizes: short (~10-30 tokens), medium, long.")
    var texts: TextSize = .short

    @Option(help: "Alternate engine and server measurements this many times (each gets duration / rounds seconds).")
    var rounds = 1

    @Option(help: "Stop after this many requests in all (a safety bound).")
    var maxRequests = 1_000_000

    @Option(help: "Milliseconds a client waits after a 429 or 503 before its next request (as well-behaved clients back off).")
    var backoffMs = 5

    @Flag(help: "Use POST /v1/embeddings instead of POST /embed.")
    var openai = false

    @Option(help: "Bearer API key to send.")
    var apiKey: String?

    @Option(help: ArgumentHelp("Also measure the engine's bare batched throughput with this model (the server's: a file, a directory or a name).", valueName: "model"))
    var model: String?

    @Option(help: "Also measure the engine's bare batched throughput with random weights of this shape (a server started with --random-shape).")
    var randomShape: ReleasedShape?

    @Option(help: PrecisionChoice.help)
    var precision: WeightPrecision = .auto

    func validate() throws {
        guard let host = URL(string: url)?.host, ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host) || host.hasPrefix("127.") else {
            throw ValidationError("--url must be a loopback address (127.0.0.0/8, localhost or [::1])")
        }
        guard model == nil || randomShape == nil else { throw ValidationError("give at most one of --model and --random-shape") }
        guard concurrency >= 1, concurrency <= 4096 else { throw ValidationError("--concurrency must be in 1...4096") }
        guard (1...100).contains(rounds) else { throw ValidationError("--rounds must be in 1...100") }
        guard duration > 0, duration <= 3600 else { throw ValidationError("--duration must be in (0, 3600] seconds") }
    }

    func run() async throws {
        let pool = Self.texts(size: texts, count: 512)
        let tokenizer = try WorldTokenizer()
        let tokenCounts = pool.map { tokenizer.encode($0).count + 1 }
        print("texts: \(texts.rawValue), \(pool.count) distinct, mean \(String(format: "%.1f", Double(tokenCounts.reduce(0, +)) / Double(pool.count))) tokens (with EOS)")

        // The engine alone and the server take turns (`--rounds`), so that both see the same machine load.
        var engine: EngineBench?
        if model != nil || randomShape != nil {
            let checkpoint: URL? = if let model { try await ModelLocator.embedding(model: model) } else { nil }
            let (randomShape, concurrency) = (randomShape, concurrency)
            engine = try await onDedicatedThread {
                try EngineBench(checkpoint: checkpoint, randomShape: randomShape, pool: pool, tokenizer: tokenizer, batch: concurrency,
                                precision: PrecisionChoice.resolve(precision))
            }
        }
        let slice = duration / Double(rounds)
        let budget = Counter(limit: maxRequests)  // shared by all rounds
        var result = Outcome()
        var engineTokens = 0
        var engineSeconds = 0.0
        for round in 1...rounds {
            if let engine {
                let (tokens, seconds) = try await onDedicatedThread { try engine.measure(seconds: slice) }
                engineTokens += tokens
                engineSeconds += seconds
                if rounds > 1 { print(String(format: "round %d engine: %.0f tokens/s", round, Double(tokens) / seconds)) }
            }
            let part = try await driveServer(pool: pool, tokenCounts: tokenCounts, seconds: slice, budget: budget)
            if rounds > 1 { print(String(format: "round %d server: %.0f tokens/s", round, Double(part.tokens) / part.elapsed)) }
            result.merge(part)
            result.elapsed += part.elapsed
        }
        let seconds = result.elapsed
        let ok = result.latencies.count
        let tokensPerSecond = Double(result.tokens) / seconds
        print("server: \(concurrency) clients, \(String(format: "%.1f", seconds)) s, \(result.total) requests")
        print(String(format: "  requests/s: %.1f   tokens/s: %.0f", Double(ok) / seconds, tokensPerSecond))
        let sorted = result.latencies.sorted()
        if !sorted.isEmpty {
            func pct(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] * 1000 }
            print(String(format: "  latency ms: p50 %.1f  p90 %.1f  p99 %.1f  max %.1f", pct(0.5), pct(0.9), pct(0.99), sorted.last! * 1000))
        }
        let statuses = result.statuses.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        print("  responses by status: \(statuses.isEmpty ? "none" : statuses)")
        if result.transportErrors > 0 { print("  transport errors: \(result.transportErrors)") }
        let fiveHundreds = result.statuses.filter { $0.key >= 500 }.values.reduce(0, +)
        print("  5xx: \(fiveHundreds)")
        if engineSeconds > 0 {
            let engineRate = Double(engineTokens) / engineSeconds
            print(String(format: "engine bare batched (%d texts per pass): %.0f tokens/s; server/engine ratio: %.3f",
                         concurrency, engineRate, tokensPerSecond / engineRate))
        }
    }

    /// Runs `body` on its own thread, as the server's inference worker does (not on a Swift
    /// concurrency thread, whose pool the kernels' own parallel loops would compete with).
    func onDedicatedThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
            thread.stackSize = 16 << 20
            thread.start()
        }
    }

    struct Outcome: Sendable {
        var latencies: [Double] = []
        var statuses: [Int: Int] = [:]
        var transportErrors = 0
        var tokens = 0
        var total = 0
        var elapsed: Double = 0

        mutating func merge(_ other: Outcome) {
            latencies += other.latencies
            statuses.merge(other.statuses, uniquingKeysWith: +)
            transportErrors += other.transportErrors
            tokens += other.tokens
            total += other.total
        }
    }

    func driveServer(pool: [String], tokenCounts: [Int], seconds: Double, budget: Counter) async throws -> Outcome {
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        let path = openai ? "/v1/embeddings" : "/embed"
        let field = openai ? "input" : "inputs"
        let bodies = pool.map { text -> ByteBuffer in
            let data = (try? JSONSerialization.data(withJSONObject: [field: text])) ?? Data()
            return ByteBuffer(bytes: data)
        }
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + .seconds(seconds)
        let apiKey = self.apiKey
        let clients = concurrency
        let backoff = Duration.milliseconds(max(0, backoffMs))

        var outcome = await withTaskGroup(of: Outcome.self) { group in
            for worker in 0..<clients {
                group.addTask {
                    var out = Outcome()
                    var i = worker * 7919
                    while clock.now < deadline, budget.take() {
                        let index = i % bodies.count
                        i += 1
                        var request = HTTPClientRequest(url: base + path)
                        request.method = .POST
                        request.headers.add(name: "content-type", value: "application/json")
                        if let apiKey { request.headers.add(name: "authorization", value: "Bearer \(apiKey)") }
                        request.body = .bytes(bodies[index])
                        let t0 = clock.now
                        do {
                            let response = try await client.execute(request, timeout: .seconds(60))
                            _ = try await response.body.collect(upTo: 16 << 20)
                            let code = Int(response.status.code)
                            out.statuses[code, default: 0] += 1
                            if code == 200 {
                                out.latencies.append((clock.now - t0).seconds)
                                out.tokens += tokenCounts[index]
                            } else if (code == 429 || code == 503) && backoff > .zero {
                                try? await Task.sleep(for: backoff)
                            }
                        } catch {
                            out.transportErrors += 1
                            if out.transportErrors > 1000 { break }
                        }
                        out.total += 1
                    }
                    return out
                }
            }
            var all = Outcome()
            for await part in group { all.merge(part) }
            return all
        }
        outcome.elapsed = (clock.now - start).seconds
        try await client.shutdown()
        return outcome
    }

    /// Deterministic texts of the given size drawn from the benchmark text.
    static func texts(size: TextSize, count: Int) -> [String] {
        let source = BenchmarkText.generate(bytes: 1 << 20)
        var rng = SeededGenerator(seed: 0x10AD_7E57)
        var out: [String] = []
        var offset = 0
        while out.count < count {
            let span = size.bytes
            let length = span.lowerBound + Int(rng.next() % UInt64(span.count))
            if offset + length > source.count { offset = 0 }
            var slice = Array(source[offset..<offset + length])
            offset += length
            // Keep whole UTF-8 characters at both ends.
            while let first = slice.first, first & 0xC0 == 0x80 { slice.removeFirst() }
            while let last = slice.last, last & 0xC0 == 0x80 || last >= 0xC0 { slice.removeLast() }
            let text = String(decoding: slice, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty { out.append(text) }
        }
        return out
    }
}

/// The engine alone: the same texts, `batch` per forward pass (no HTTP, no queue), on the caller's
/// thread. Used from one thread at a time.
final class EngineBench: @unchecked Sendable {
    let model: RWKVModel
    let workspace: Workspace
    let inputs: [[Int]]
    let batch: Int
    private var offset = 0

    init(checkpoint: URL?, randomShape: ReleasedShape?, pool: [String], tokenizer: WorldTokenizer, batch: Int,
         precision: WeightPrecision) throws {
        let weights = if let checkpoint {
            try EmbeddingModelWeights.load(contentsOf: checkpoint)
        } else {
            EmbeddingModelWeights.random(architecture: (randomShape ?? .tiny).architecture, seed: 1)
        }
        model = RWKVModel(weights, precision: precision)
        workspace = model.makeWorkspace()
        inputs = pool.map { InputProtocol.single.input(for: tokenizer.encode($0)) }
        self.batch = batch
        _ = try model.embed(Array(inputs.prefix(batch)), workspace: workspace)  // warm-up
    }

    /// Tokens embedded in about `seconds` (at least one pass), and the time taken.
    func measure(seconds: Double) throws -> (tokens: Int, seconds: Double) {
        let clock = ContinuousClock()
        let start = clock.now
        let limit = Duration.seconds(min(seconds, 600))
        var tokens = 0
        var passes = 0
        repeat {
            var texts: [[Int]] = []
            for _ in 0..<batch {
                texts.append(inputs[offset % inputs.count])
                offset += 1
            }
            _ = try model.embed(texts, workspace: workspace)
            tokens += texts.reduce(0) { $0 + $1.count }
            passes += 1
        } while clock.now - start < limit && passes < 100_000
        return (tokens, (clock.now - start).seconds)
    }
}

/// A shared request budget.
final class Counter: @unchecked Sendable {
    private var remaining: Int
    private let lock = NSLock()
    init(limit: Int) { remaining = limit }
    func take() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard remaining > 0 else { return false }
        remaining -= 1
        return true
    }
}
