import Foundation
import EmbeddingRWKV
import RWKVCheckpoint
import RWKVRetrieval
import RWKVTestSupport

/// Fixture models as retrieval models, loaded once per test process.
enum Models {
    static func load(_ name: String) throws -> RetrievalModels {
        try cache.value(name) {
            try RetrievalModels.load(embedding: Fixtures.embeddingCheckpoint(name), reranker: Fixtures.rerankerCheckpoint(name))
        }
    }
    static var tiny: RetrievalModels { get throws { try load("tiny-bf16") } }
    private static let cache = Memo<RetrievalModels>()
}

/// A fresh temporary directory, removed when the value is released.
final class TemporaryDirectory {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("rwkv-retrieval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> URL { url.appendingPathComponent(name) }
    func write(_ name: String, _ text: String) throws {
        let u = path(name)
        try FileManager.default.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: u)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Short, varied documents.
let sampleTexts = [
    "The cat sat on the mat and watched the birds outside.",
    "Paris is the capital and most populous city of France.",
    "Swift is a general-purpose programming language developed by Apple.",
    "The Nile is a major north-flowing river in northeastern Africa.",
    "Mount Everest is Earth's highest mountain above sea level.",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "The Great Wall of China is a series of fortifications.",
    "RWKV is a recurrent neural network with transformer-level performance.",
    "Coffee is a beverage brewed from roasted coffee beans.",
    "The mitochondria is the powerhouse of the cell.",
    "Jupiter is the fifth planet from the Sun and the largest in the Solar System.",
    "Tokyo is the capital of Japan and one of the largest cities in the world.",
]

let sampleQueries = ["What is the capital of France?", "largest planet", "How do plants make energy?"]

func sampleDocuments(_ n: Int = sampleTexts.count) -> [Document] {
    (0..<n).map { Document(id: "doc\($0)", text: sampleTexts[$0 % sampleTexts.count] + ($0 >= sampleTexts.count ? " (\($0))" : "")) }
}

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// The package root (from this file's path).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The `rwkv-emb` executable built next to the tests (`swift build --build-tests` builds it).
func cliExecutable() -> URL? {
    let candidates = [
        Bundle.main.bundleURL.appendingPathComponent("rwkv-emb"),
        Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("rwkv-emb"),
        packageRoot.appendingPathComponent(".build/debug/rwkv-emb"),
    ]
    #if DEBUG
    let all = candidates
    #else
    let all = candidates + [packageRoot.appendingPathComponent(".build/release/rwkv-emb")]
    #endif
    return all.first { FileManager.default.isExecutableFile(atPath: $0.path) }
}

struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the CLI to completion.
func runCLI(_ arguments: [String], stdin: String? = nil) throws -> ProcessResult {
    guard let exe = cliExecutable() else { throw CLIMissing() }
    let p = Process()
    p.executableURL = exe
    p.arguments = arguments
    let out = Pipe(), err = Pipe(), input = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = input
    try p.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return ProcessResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

struct CLIMissing: Error, CustomStringConvertible {
    var description: String { "rwkv-emb not found next to the tests; run `swift build --build-tests` first" }
}
