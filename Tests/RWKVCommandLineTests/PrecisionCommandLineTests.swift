import Foundation
import Testing
import RWKVTestSupport

/// `--precision` on the commands, and the fp32 override read by the CLI (`RWKV_EMB_FORCE_FP32`).
@Suite(.serialized) struct PrecisionCommandLineTests {

    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> ProcessResult {
        try await runCLI(arguments, environment: environment)
    }

    static func embeddings(_ r: ProcessResult) throws -> [[Double]] {
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        return try #require(json?["embeddings"] as? [[Double]], "\(r.stdout) \(r.stderr)")
    }

    @Test func forcingFP32FallsBackWithOneLineAndComputesExactlyAsFP32() async throws {
        let texts = ["Hello, world", "A cat is a small feline."]
        let fp32 = try await Self.run(["embed", "--model", Fixtures.tinyModelPath, "--precision", "fp32"] + texts)
        #expect(fp32.status == 0, "\(fp32.stderr)")
        #expect(!fp32.stderr.contains("note:"))
        for requested in ["int8", "bf16", "auto"] {
            let forced = try await Self.run(["embed", "--model", Fixtures.tinyModelPath, "--precision", requested] + texts,
                                      environment: ["RWKV_EMB_FORCE_FP32": "1"])
            #expect(forced.status == 0, "\(forced.stderr)")
            let notes = forced.stderr.split(separator: "\n").filter { $0.hasPrefix("note:") }
            #expect(notes.count == 1 && notes[0].contains("fp32 forced"), "\(forced.stderr)")
            #expect(try Self.embeddings(forced) == Self.embeddings(fp32))
        }
    }

    @Test func int8AndBF16RunOnTheCommandLineCloseToFP32() async throws {
        let texts = ["Hello, world", "A cat is a small feline."]
        let fp32 = try await Self.embeddings(Self.run(["embed", "--model", Fixtures.tinyModelPath, "--precision", "fp32", "--normalize"] + texts))
        for (precision, bound) in [("bf16", 0.9999), ("int8", 0.999)] {
            let r = try await Self.run(["embed", "--model", Fixtures.tinyModelPath, "--precision", precision, "--normalize"] + texts)
            #expect(r.status == 0, "\(r.stderr)")
            for (a, b) in zip(try Self.embeddings(r), fp32) {
                #expect(zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } >= bound, "\(precision)")
            }
        }
        let bad = try await Self.run(["embed", "--model", Fixtures.tinyModelPath, "--precision", "fp8", "x"])
        #expect(bad.status != 0 && bad.stderr.contains("precision"))
    }
}
