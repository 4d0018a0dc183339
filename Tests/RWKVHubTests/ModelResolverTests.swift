import Foundation
import RWKVTestSupport
import Testing
@testable import RWKVHub

@Suite struct ModelResolverTests {
    let repo = KnownModels.repository
    let tiny = KnownModels.named("tiny")!
    let commit = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"

    /// Builds the cache the Python `huggingface_hub` leaves behind: blobs by sha256, relative
    /// snapshot links, refs/main.
    func placeLikePython(_ home: TemporaryHome, files: [String: [UInt8]]) throws {
        let folder = home.hubCache.appendingPathComponent("models--howard-hou--EmbeddingRWKV")
        let manager = FileManager.default
        try manager.createDirectory(at: folder.appendingPathComponent("blobs"), withIntermediateDirectories: true)
        try manager.createDirectory(at: folder.appendingPathComponent("snapshots/\(commit)"), withIntermediateDirectories: true)
        try manager.createDirectory(at: folder.appendingPathComponent("refs"), withIntermediateDirectories: true)
        try commit.write(to: folder.appendingPathComponent("refs/main"), atomically: true, encoding: .utf8)
        for (name, data) in files {
            let sha = FakeHub.File(data: data, lfs: true).sha256
            try Data(data).write(to: folder.appendingPathComponent("blobs/\(sha)"))
            try manager.createSymbolicLink(atPath: folder.appendingPathComponent("snapshots/\(commit)/\(name)").path,
                                           withDestinationPath: "../../blobs/\(sha)")
        }
    }

    @Test func namesResolveFromACacheFilledByPython() async throws {
        let home = try TemporaryHome()
        try placeLikePython(home, files: [tiny.embeddingFile: generatedBytes(1000), tiny.rerankerFile: generatedBytes(500, seed: 2)])
        // The endpoint is a closed port: any network use would fail.
        let resolver = ModelResolver(environment: home.environment(), currentDirectory: home.url)
        let pair = try await resolver.resolvePair(model: "tiny", reranker: nil)
        let snapshots = home.hubCache.appendingPathComponent("models--howard-hou--EmbeddingRWKV/snapshots/\(commit)")
        #expect(pair.embedding.url.path == snapshots.appendingPathComponent(tiny.embeddingFile).path)
        #expect(pair.embedding.source == .cache(tiny.embedding))
        #expect(pair.reranker?.url.path == snapshots.appendingPathComponent(tiny.rerankerFile).path)
        #expect(bytes(pair.embedding.url) == generatedBytes(1000))

        let byReference = try await resolver.resolve("hf:howard-hou/EmbeddingRWKV/\(tiny.rerankerFile)@\(commit)", role: .reranker)
        #expect(byReference.url.path == pair.reranker?.url.path)
        // The default model (no --model) is the cached tiny, not the fallback.
        let defaulted = try await resolver.resolvePair(model: nil, reranker: nil)
        #expect(defaulted == pair)
    }

    @Test func theHubCacheVariableIsHonoured() async throws {
        let home = try TemporaryHome()
        try placeLikePython(home, files: [tiny.embeddingFile: generatedBytes(10)])
        let elsewhere = try TemporaryHome()
        let environment = HubEnvironment(["HOME": elsewhere.url.path, "HF_HOME": elsewhere.url.path,
                                          "HF_HUB_CACHE": home.hubCache.path, "HF_HUB_OFFLINE": "1"])
        let resolved = try await ModelResolver(environment: environment).resolve("tiny", role: .embedding)
        #expect(resolved.url.path.hasPrefix(home.hubCache.path))
    }

    @Test func namesAreDownloadedWhenMissing() async throws {
        let hub = try FakeHub()
        defer { hub.shutdown() }
        hub.add(repo: repo, path: tiny.embeddingFile, data: generatedBytes(3000))
        hub.add(repo: repo, path: tiny.rerankerFile, data: generatedBytes(2000, seed: 3))
        let home = try TemporaryHome()
        let resolver = ModelResolver(environment: home.environment(endpoint: hub.endpoint), currentDirectory: home.url,
                                     downloadConfiguration: fastConfiguration())
        let pair = try await resolver.resolvePair(model: "tiny", reranker: nil)
        #expect(pair.embedding.source == .downloaded(tiny.embedding))
        #expect(pair.reranker?.source == .downloaded(tiny.reranker))
        #expect(bytes(pair.reranker!.url) == generatedBytes(2000, seed: 3))
        hub.clearLog()
        let again = try await resolver.resolvePair(model: "tiny", reranker: nil)
        #expect(again.embedding.source == .cache(tiny.embedding))
        #expect(hub.requests.isEmpty)   // the cache comes first
    }

    @Test func offlineWithoutACopyIsAClearError() async throws {
        let home = try TemporaryHome()
        let resolver = ModelResolver(environment: home.environment(offlineExtra: ["HF_HUB_OFFLINE": "1"]), currentDirectory: home.url)
        await #expect(throws: HubError.notCached(repo: repo, file: tiny.embeddingFile, revision: "main",
                                                 cache: home.hubCache.path, offline: true)) {
            try await resolver.resolve("tiny", role: .embedding)
        }
    }

    @Test func theDefaultModelFallsBackToTheTestModelWithANotice() async throws {
        let home = try TemporaryHome()
        let fixture = Fixtures.root.appendingPathComponent("tiny-bf16")
        let notices = Notices()
        let resolver = ModelResolver(environment: home.environment(offlineExtra: ["HF_HUB_OFFLINE": "1", "RWKV_EMB_FALLBACK_DIR": fixture.path]),
                                     currentDirectory: home.url, notice: notices.append)
        let pair = try await resolver.resolvePair(model: nil, reranker: nil)
        #expect(pair.embedding.url.path == fixture.appendingPathComponent("embedding.pth").path)
        #expect(pair.reranker?.url.path == fixture.appendingPathComponent("reranker.pth").path)
        #expect(pair.embedding.isFallback)
        #expect(notices.all.count == 1)
        #expect(notices.all.first?.contains("RANDOM weights") == true)
        #expect(notices.all.first?.contains("Download 'tiny' when online") == true)

        // A model named explicitly never falls back.
        await #expect(throws: HubError.self) { try await resolver.resolvePair(model: "tiny", reranker: nil) }
    }

    @Test func theFallbackIsTheFirstCandidateHoldingTheModel() async throws {
        let home = try TemporaryHome()
        let environment = home.environment(offlineExtra: ["HF_HUB_OFFLINE": "1"])
        let fixture = Fixtures.root.appendingPathComponent("tiny-bf16")
        #expect(FallbackModel.locate(environment: environment, candidates: [home.url, fixture])?.path == fixture.path)
        #expect(FallbackModel.locate(environment: environment, candidates: [home.url]) == nil)
        #expect(FallbackModel.locate(environment: environment, candidates: []) == nil)

        // Without any fallback the original error comes through.
        let resolver = ModelResolver(environment: environment, currentDirectory: home.url)
        await #expect(throws: HubError.self) { try await resolver.resolvePair(model: nil, reranker: nil) }
    }

    @Test func directoriesAreSearchedByNamingConvention() async throws {
        let home = try TemporaryHome()
        let resolver = ModelResolver(environment: home.environment(offlineExtra: ["HF_HUB_OFFLINE": "1"]), currentDirectory: home.url)
        let fixture = Fixtures.root.appendingPathComponent("tiny-bf16")
        let pair = try await resolver.resolvePair(model: fixture.path, reranker: nil)
        #expect(pair.embedding.url.lastPathComponent == "embedding.pth")
        #expect(pair.reranker?.url.lastPathComponent == "reranker.pth")
        // A file given as --model finds the reranker beside it.
        let besides = try await resolver.resolvePair(model: fixture.appendingPathComponent("embedding.pth").path, reranker: nil)
        #expect(besides.reranker?.url.lastPathComponent == "reranker.pth")

        // Released names: the released pair wins among several rerankers.
        let folder = home.url.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in ["rwkv0b1-emb-curriculum.pth", "rwkv0b1-reranker.pth", "rwkv0b3-reranker.pth", "notes.txt"] {
            try Data([0]).write(to: folder.appendingPathComponent(name))
        }
        let released = try await resolver.resolvePair(model: "models", reranker: nil)
        #expect(released.embedding.url.lastPathComponent == "rwkv0b1-emb-curriculum.pth")
        #expect(released.reranker?.url.lastPathComponent == "rwkv0b1-reranker.pth")
        await #expect(throws: HubError.ambiguousCheckpoint(directory: folder.path, role: .reranker,
                                                           candidates: ["rwkv0b1-reranker.pth", "rwkv0b3-reranker.pth"])) {
            try await resolver.resolve("models", role: .reranker)
        }
        let empty = home.url.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        await #expect(throws: HubError.noCheckpointInDirectory(directory: empty.path, role: .embedding)) {
            try await resolver.resolve(empty.path, role: .embedding)
        }
    }

    @Test func aHubCacheFolderStandsForItsMainSnapshot() async throws {
        let home = try TemporaryHome()
        try placeLikePython(home, files: [tiny.embeddingFile: generatedBytes(10), tiny.rerankerFile: generatedBytes(10, seed: 9)])
        let resolver = ModelResolver(environment: home.environment(offlineExtra: ["HF_HUB_OFFLINE": "1"]), currentDirectory: home.url)
        let pair = try await resolver.resolvePair(model: home.hubCache.appendingPathComponent("models--howard-hou--EmbeddingRWKV").path,
                                                  reranker: nil)
        #expect(pair.embedding.url.lastPathComponent == tiny.embeddingFile)
        #expect(pair.reranker?.url.lastPathComponent == tiny.rerankerFile)
    }

    @Test func catalogReportsWhatIsCached() throws {
        let home = try TemporaryHome()
        try placeLikePython(home, files: [tiny.embeddingFile: generatedBytes(1234)])
        let statuses = ModelCatalog.status(cache: home.environment().cache)
        #expect(statuses.map(\.model.name) == ["tiny", "base", "large"])
        #expect(statuses[0].embedding?.size == 1234)
        #expect(statuses[0].reranker == nil)
        #expect(statuses[1].embedding == nil)
        #expect(!statuses[0].isComplete)

        let cache = home.environment().cache
        let entries = cache.entries(repo: repo)
        #expect(entries.map(\.path) == [tiny.embeddingFile])
        #expect(entries.first?.refs == ["main"])
        #expect(entries.first?.size == 1234)
        #expect(cache.incompleteBytes(repo: repo) == 0)
        try Data(count: 77).write(to: cache.blobsFolder(repo).appendingPathComponent("abc.incomplete"))
        #expect(cache.incompleteBytes(repo: repo) == 77)
        #expect(cache.entries(repo: repo).count == 1)   // a partial download is never listed as a file
    }

    final class Notices: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [String] = []
        var all: [String] { lock.lock(); defer { lock.unlock() }; return values }
        var append: @Sendable (String) -> Void { { text in self.lock.lock(); self.values.append(text); self.lock.unlock() } }
    }
}
