import Foundation
import Testing
@testable import RWKVHub

@Suite struct DownloaderEdgeTests {
    let repo = KnownModels.repository
    let tiny = KnownModels.named("tiny")!

    @Test func headerHelpers() {
        #expect(Downloader.normalizeETag("W/\"abc\"") == "abc")
        #expect(Downloader.normalizeETag("\"abc\"") == "abc")
        #expect(Downloader.rangeStart("bytes 100-199/200") == 100)
        #expect(Downloader.rangeStart("items 1-2/3") == nil)
        let hub = URL(string: "https://huggingface.co/a/b")!
        #expect(Downloader.sameOrigin(hub, URL(string: "https://huggingface.co:443/x")!))
        #expect(!Downloader.sameOrigin(hub, URL(string: "https://cdn-lfs.hf.co/x")!))
        #expect(!Downloader.sameOrigin(hub, URL(string: "http://huggingface.co/x")!))
        #expect(!Downloader.sameOrigin(URL(string: "http://127.0.0.1:1000")!, URL(string: "http://127.0.0.1:1001")!))
    }

    @Test func resolveURLEscapesRevisionAndPath() {
        let downloader = Downloader(environment: HubEnvironment(["HOME": "/h", "HF_ENDPOINT": "http://hub.local:8080/"]))
        #expect(downloader.resolveURL(HubFile(repo: "o/r", path: "sub dir/m.pth", revision: "refs/pr/1")).absoluteString
            == "http://hub.local:8080/o/r/resolve/refs%2Fpr%2F1/sub%20dir/m.pth")
    }

    /// A fake Hub serving `data` at `path` of the model repository, `prepare`d (renames, gates, faults), and
    /// a fresh home whose environment (with the hub's `HF_TOKEN` when `withToken`) points at it, for `body`.
    @discardableResult
    func withHub<T>(serving data: [UInt8], at path: String, withToken: Bool = false,
                    prepare: (FakeHub) -> Void = { _ in },
                    _ body: (FakeHub, HubEnvironment) async throws -> T) async throws -> T {
        let hub = try FakeHub()
        defer { hub.shutdown() }
        hub.add(repo: repo, path: path, data: data)
        prepare(hub)
        let home = try TemporaryHome()
        defer { withExtendedLifetime(home) {} }
        return try await body(hub, home.environment(endpoint: hub.endpoint, withToken ? ["HF_TOKEN": hub.token] : [:]))
    }

    /// Leaves `bytes` as the reranker's `.incomplete` blob, the way an interrupted earlier run would.
    @discardableResult
    func leaveIncompleteReranker(_ bytes: [UInt8], hub: FakeHub, environment: HubEnvironment) throws -> URL {
        let sha = try #require(hub.file(repo: repo, path: tiny.rerankerFile)).sha256
        let incomplete = environment.cache.incompleteBlob(repo: repo, etag: sha)
        try FileManager.default.createDirectory(at: environment.cache.blobsFolder(repo), withIntermediateDirectories: true)
        try Data(bytes).write(to: incomplete)
        return incomplete
    }

    @Test func aCompleteIncompleteFileNeedsNoTransfer() async throws {
        let data = generatedBytes(50_000)
        try await withHub(serving: data, at: tiny.rerankerFile) { hub, environment in
            try leaveIncompleteReranker(data, hub: hub, environment: environment)
            let result = try await Downloader(environment: environment, configuration: fastConfiguration()).download(tiny.reranker)
            #expect(bytes(result.url) == data)
            #expect(!hub.requests.contains { $0.server == "cdn" })
        }
    }

    @Test func aCorruptPartialFileIsDiscardedAndTheNextRunSucceeds() async throws {
        let data = generatedBytes(50_000)
        try await withHub(serving: data, at: tiny.rerankerFile) { hub, environment in
            // Wrong bytes from an earlier run.
            let incomplete = try leaveIncompleteReranker(generatedBytes(20_000, seed: 77), hub: hub, environment: environment)
            let downloader = Downloader(environment: environment, configuration: fastConfiguration())
            await #expect(throws: HubError.self) { try await downloader.download(tiny.reranker) }
            #expect(!FileManager.default.fileExists(atPath: incomplete.path))
            #expect(environment.cache.cachedFile(tiny.reranker) == nil)
            let result = try await downloader.download(tiny.reranker)
            #expect(bytes(result.url) == data)
        }
    }

    @Test func concurrentDownloadsOfOneFileShareTheLock() async throws {
        let data = generatedBytes(800_000)
        try await withHub(serving: data, at: tiny.embeddingFile) { hub, environment in
            let file = tiny.embedding
            async let first = Downloader(environment: environment, configuration: fastConfiguration()).download(file)
            async let second = Downloader(environment: environment, configuration: fastConfiguration()).download(file)
            let results = try await [first, second]
            #expect(results[0].url == results[1].url)
            #expect(bytes(results[0].url) == data)
            #expect(results.filter(\.downloaded).count == 1)
            #expect(hub.requests.filter { $0.server == "cdn" && $0.method == "GET" }.count == 1)
        }
    }

    @Test func aRevisionIsRecordedAndACommitIsUsedDirectly() async throws {
        try await withHub(serving: generatedBytes(1000), at: tiny.rerankerFile) { hub, environment in
            let pinned = HubFile(repo: repo, path: tiny.rerankerFile, revision: hub.commit)
            let result = try await Downloader(environment: environment, configuration: fastConfiguration()).download(pinned)
            #expect(result.commit == hub.commit)
            // A commit is no ref: nothing written under refs/, yet the file resolves by commit.
            #expect(!FileManager.default.fileExists(atPath: environment.cache.refFile(repo: repo, revision: hub.commit).path))
            #expect(environment.cache.cachedFile(pinned) == result.url)
            await #expect(throws: HubError.notFoundOnHub(repo: repo, file: tiny.rerankerFile, revision: "v9", detail: "RevisionNotFound")) {
                try await Downloader(environment: environment, configuration: fastConfiguration())
                    .download(HubFile(repo: repo, path: tiny.rerankerFile, revision: "v9"))
            }
        }
    }

    @Test func relativeRedirectsOnTheHubAreFollowed() async throws {
        let data = generatedBytes(30_000)
        try await withHub(serving: data, at: tiny.rerankerFile, withToken: true,
                          prepare: { $0.rename("old-owner/EmbeddingRWKV", to: repo) }) { hub, environment in
            let file = HubFile(repo: "old-owner/EmbeddingRWKV", path: tiny.rerankerFile)
            let result = try await Downloader(environment: environment, configuration: fastConfiguration()).download(file)
            #expect(bytes(result.url) == data)
            // Stored under the name asked for, as huggingface_hub does.
            #expect(result.url.path.contains("models--old-owner--EmbeddingRWKV/snapshots/\(hub.commit)/"))
            let heads = hub.requests.filter { $0.method == "HEAD" }
            #expect(heads.count == 2)
            #expect(heads.allSatisfy { $0.header("Authorization") == "Bearer \(hub.token)" })
        }
    }

    @Test func gatedRepositoriesAreForbidden() async throws {
        try await withHub(serving: generatedBytes(100), at: tiny.rerankerFile, withToken: true,
                          prepare: { $0.gate(repo) }) { hub, environment in
            await #expect(throws: HubError.forbidden(repo: repo)) {
                try await Downloader(environment: environment, configuration: fastConfiguration()).download(tiny.reranker)
            }
        }
    }

    @Test func serverErrorsAreRetriedAndThenReported() async throws {
        let data = generatedBytes(10_000)
        try await withHub(serving: data, at: tiny.rerankerFile) { hub, environment in
            hub.failNextTransfers(1, status: .serviceUnavailable)
            let result = try await Downloader(environment: environment, configuration: fastConfiguration(attempts: 2)).download(tiny.reranker)
            #expect(bytes(result.url) == data)

            let other = HubFile(repo: repo, path: "other.pth")
            hub.add(repo: repo, path: other.path, data: generatedBytes(10_000, seed: 5))
            hub.failNextTransfers(5, status: .serviceUnavailable)
            let error = await #expect(throws: HubError.self) {
                try await Downloader(environment: environment, configuration: fastConfiguration(attempts: 3)).download(other)
            }
            guard case .retriesExhausted(_, 3, _) = error else {
                Issue.record("expected exhausted retries, got \(String(describing: error))")
                return
            }
            #expect(environment.cache.cachedFile(other) == nil)
        }
    }
}
