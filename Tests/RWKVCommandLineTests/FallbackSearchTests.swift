import Foundation
import Testing
import RWKVTestSupport

/// Where the CLI finds the random-weight test model when the default model is unavailable: the
/// package around the current directory (past nested packages such as `Fuzz/`), else the package
/// around the executable.
@Suite(.serialized) struct FallbackSearchTests {
    static let fixture = Fixtures.root.appendingPathComponent("tiny-bf16").standardizedFileURL.path

    /// `rwkv-emb models` with an empty cache, offline, without `RWKV_EMB_FALLBACK_DIR`, run in `folder`.
    static func models(in folder: URL) async throws -> ProcessResult {
        let home = try TemporaryDirectory()
        var environment = ProcessInfo.processInfo.environment
        environment["RWKV_EMB_FALLBACK_DIR"] = nil
        environment["HF_HUB_CACHE"] = home.path("hub").path
        environment["HF_HUB_OFFLINE"] = "1"
        return try await runCLI(["models"], replacingEnvironment: environment, currentDirectory: folder)
    }

    @Test func foundFromThePackageAroundTheCurrentDirectory() async throws {
        let r = try await Self.models(in: packageRoot.appendingPathComponent("Fuzz"))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("random weights (used only when the default model is unavailable): \(Self.fixture)"), "\(r.stdout)")
    }

    @Test func foundFromThePackageAroundTheExecutable() async throws {
        let elsewhere = try TemporaryDirectory()
        let r = try await Self.models(in: elsewhere.url)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(Self.fixture), "\(r.stdout)")
    }
}
