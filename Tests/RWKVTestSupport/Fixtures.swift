import Foundation

/// The reference fixtures shipped in `Tests/Fixtures` (copied from the team's shared fixtures):
/// two random-weight models in the published checkpoint layout and the outputs the reference
/// implementation computes for them. See `Tests/Fixtures/README.md`.
public enum Fixtures {
    /// The fixture model folders, by name.
    public static let modelNames = ["tiny-bf16", "small-fp16"]

    /// `Tests/Fixtures`, found from this source file so that a fresh clone needs no resources step.
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()   // RWKVTestSupport
        .deletingLastPathComponent()   // Tests
        .appendingPathComponent("Fixtures", isDirectory: true)

    public static func url(_ model: String, _ file: String) -> URL {
        root.appendingPathComponent(model, isDirectory: true).appendingPathComponent(file)
    }

    public static func embeddingCheckpoint(_ model: String) -> URL { url(model, "embedding.pth") }
    public static func rerankerCheckpoint(_ model: String) -> URL { url(model, "reranker.pth") }

    /// The tiny-bf16 checkpoints' paths, as the CLI tests pass them to `--model` and `--reranker`.
    public static let tinyModelPath = embeddingCheckpoint("tiny-bf16").path
    public static let tinyRerankerPath = rerankerCheckpoint("tiny-bf16").path

    /// Decodes `golden.json` of one fixture model (cached: the files are several MB).
    public static func golden(_ model: String) throws -> Golden {
        try goldenCache.value(model) {
            let data = try Data(contentsOf: url(model, "golden.json"))
            return try JSONDecoder().decode(Golden.self, from: data)
        }
    }

    /// The vocabulary file as the team ships it (also bundled with RWKVTokenizer).
    public static var vocabulary: URL {
        root.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/RWKVTokenizer/Resources/rwkv_vocab_v20230424.txt")
    }

    private static let goldenCache = Memo<Golden>()
}

/// A tiny thread-safe memo: fixtures and models are loaded once per test process.
public final class Memo<Value>: @unchecked Sendable {
    private var values: [String: Value] = [:]
    private let lock = NSLock()

    public init() {}

    public func value(_ key: String, make: () throws -> Value) throws -> Value {
        lock.lock()
        defer { lock.unlock() }
        if let value = values[key] { return value }
        let value = try make()
        values[key] = value
        return value
    }
}
