import Foundation
import RWKVTestSupport
import Testing
@testable import RWKVHub

/// Downloads from a real HTTP server on loopback (`FakeHub`) into a temporary HF_HOME.
@Suite struct DownloaderTests {
    let repo = KnownModels.repository
    let tiny = KnownModels.named("tiny")!

    /// A hub holding the `tiny` pair: the fixture reranker (1 MB) and generated embedding bytes.
    func makeHub(isPrivate: Bool = false) throws -> FakeHub {
        let hub = try FakeHub()
        let reranker = try Data(contentsOf: Fixtures.rerankerCheckpoint("tiny-bf16"))
        hub.add(repo: repo, path: tiny.embeddingFile, data: generatedBytes(1_500_000), isPrivate: isPrivate)
        hub.add(repo: repo, path: tiny.rerankerFile, data: Array(reranker), isPrivate: isPrivate)
        hub.add(repo: repo, path: "config.json", data: Array("{\"n_layer\": 12}\n".utf8), lfs: false, isPrivate: isPrivate)
        return hub
    }

    @Test func downloadsAPairIntoThePythonLayout() async throws {
        let hub = try makeHub()
        defer { hub.shutdown() }
        let home = try TemporaryHome()
        let environment = home.environment(endpoint: hub.endpoint, ["HF_TOKEN": hub.token])
        let events = EventLog()
        let results = try await Downloader(environment: environment, configuration: fastConfiguration())
            .download(tiny, progress: events.handler)

        #expect(results.map(\.file.path) == [tiny.embeddingFile, tiny.rerankerFile])
        let folder = home.hubCache.appendingPathComponent("models--howard-hou--EmbeddingRWKV")
        #expect(try String(contentsOf: folder.appendingPathComponent("refs/main"), encoding: .utf8) == hub.commit)
        for result in results {
            let served = try #require(hub.file(repo: repo, path: result.file.path))
            let snapshot = folder.appendingPathComponent("snapshots/\(hub.commit)/\(result.file.path)")
            #expect(result.url.path == snapshot.path)
            #expect(result.downloaded)
            #expect(result.etag == served.sha256)
            #expect(readLink(snapshot) == "../../blobs/\(served.sha256)")
            #expect(bytes(folder.appendingPathComponent("blobs/\(served.sha256)")) == served.data)
            #expect(bytes(snapshot) == served.data)
        }
        let blobs = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("blobs").path)
        #expect(!blobs.contains { $0.hasSuffix(".incomplete") })
        #expect(FileManager.default.fileExists(atPath: home.hubCache.appendingPathComponent(".locks/models--howard-hou--EmbeddingRWKV").path))
        #expect(events.all.contains { if case .finished = $0 { return true } else { return false } })

        // The token went to the Hub, never to the CDN the Hub redirected to.
        let requests = hub.requests
        #expect(requests.contains { $0.server == "cdn" })
        for request in requests {
            if request.server == "hub" {
                #expect(request.header("Authorization") == "Bearer \(hub.token)")
            } else {
                #expect(request.header("Authorization") == nil)
            }
        }
    }

    @Test func aRegularFileIsNamedByItsGitHash() async throws {
        let hub = try makeHub()
        defer { hub.shutdown() }
        let home = try TemporaryHome()
        let file = HubFile(repo: repo, path: "config.json")
        let result = try await Downloader(environment: home.environment(endpoint: hub.endpoint), configuration: fastConfiguration())
            .download(file)
        let served = try #require(hub.file(repo: repo, path: "config.json"))
        #expect(result.etag == served.gitSHA1)
        #expect(readLink(result.url) == "../../blobs/\(served.gitSHA1)")
        #expect(bytes(result.url) == served.data)
        #expect(!hub.requests.contains { $0.server == "cdn" })
    }

    @Test func resumesAfterADroppedConnection() async throws {
        let hub = try makeHub()
        defer { hub.shutdown() }
        let home = try TemporaryHome()
        let downloader = Downloader(environment: home.environment(endpoint: hub.endpoint), configuration: fastConfiguration())
        let file = tiny.embedding
        let served = try #require(hub.file(repo: repo, path: file.path))
        hub.dropNextTransfers(1, afterBytes: 600_000)

        await #expect(throws: HubError.self) { try await downloader.download(file) }
        let cache = home.environment().cache
        let incomplete = cache.incompleteBlob(repo: repo, etag: served.sha256)
        let partial = try #require(FileSystem.regularFileSize(incomplete))
        #expect(partial > 0 && partial <= 600_000)
        #expect(cache.cachedFile(file) == nil)   // no half file is ever seen as a model
        #expect(!FileManager.default.fileExists(atPath: cache.blob(repo: repo, etag: served.sha256).path))

        hub.clearLog()
        let result = try await downloader.download(file)
        let transfer = try #require(hub.requests.first { $0.server == "cdn" && $0.method == "GET" })
        #expect(transfer.header("Range") == "bytes=\(partial)-")
        #expect(bytes(result.url) == served.data)
        #expect(!FileManager.default.fileExists(atPath: incomplete.path))
    }

    @Test func retriesResumeWithinOneCall() async throws {
        let hub = try makeHub()
        defer { hub.shutdown() }
        let home = try TemporaryHome()
        hub.dropNextTransfers(2, afterBytes: 400_000)
        let events = EventLog()
        let result = try await Downloader(environment: home.environment(endpoint: hub.endpoint), configuration: fastConfiguration(attempts: 3))
            .download(tiny.embedding, progress: events.handler)
        let transfers = hub.requests.filter { $0.server == "cdn" && $0.method == "GET" }
        #expect(transfers.count == 3)
        #expect(transfers[0].header("Range") == nil)
        #expect(transfers[1].header("Range") != nil)
        #expect(transfers[2].header("Range") != nil)
        #expect(bytes(result.url) == hub.file(repo: repo, path: tiny.embeddingFile)?.data)
        #expect(events.all.filter { if case .retrying = $0 { return true } else { return false } }.count == 2)
    }

    @Test func aChecksumMismatchPlacesNothing() async throws {
        let hub = try makeHub()
        defer { hub.shutdown() }
        hub.setCorrupt(true)
        let home = try TemporaryHome()
        let environment = home.environment(endpoint: hub.endpoint)
        let error = await #expect(throws: HubError.self) {
            try await Downloader(environment: environment, configuration: fastConfiguration()).download(tiny.reranker)
        }
        guard case .checksumMismatch = error else {
            Issue.record("expected a checksum mismatch, got \(String(describing: error))")
            return
        }
        let blobs = environment.cache.blobsFolder(repo)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: blobs.path)) ?? []).isEmpty)
        #expect(environment.cache.cachedFile(tiny.reranker) == nil)
        #expect(!FileManager.default.fileExists(atPath: environment.cache.snapshotsFolder(repo).path))
    }

    @Test func nothingIsVisibleWhileDownloading() async throws {
        let hub = try makeHub()
        defer { hub.shutdown() }
        let home = try TemporaryHome()
        let environment = home.environment(endpoint: hub.endpoint)
        let file = tiny.embedding
        let sha = try #require(hub.file(repo: repo, path: file.path)).sha256
        let visible = EventLog()
        let cache = environment.cache
        let result = try await Downloader(environment: environment, configuration: fastConfiguration()).download(file) { event in
            if case .progress = event,
               cache.cachedFile(file) != nil || FileManager.default.fileExists(atPath: cache.blob(repo: file.repo, etag: sha).path) {
                visible.handler(event)
            }
        }
        #expect(visible.all.isEmpty)
        #expect(cache.cachedFile(file) == result.url)
    }

    @Test func aSecondDownloadOnlyAsksForMetadata() async throws {
        let hub = try makeHub()
        defer { hub.shutdown() }
        let home = try TemporaryHome()
        let downloader = Downloader(environment: home.environment(endpoint: hub.endpoint), configuration: fastConfiguration())
        _ = try await downloader.download(tiny.reranker)
        hub.clearLog()
        let again = try await downloader.download(tiny.reranker)
        #expect(!again.downloaded)
        #expect(hub.requests.map(\.method) == ["HEAD"])
    }

    @Test func privateRepositoriesNeedTheToken() async throws {
        let hub = try makeHub(isPrivate: true)
        defer { hub.shutdown() }
        let home = try TemporaryHome()
        await #expect(throws: HubError.unauthorized(repo: repo, tokenSent: false)) {
            try await Downloader(environment: home.environment(endpoint: hub.endpoint), configuration: fastConfiguration())
                .download(tiny.reranker)
        }
        await #expect(throws: HubError.unauthorized(repo: repo, tokenSent: true)) {
            try await Downloader(environment: home.environment(endpoint: hub.endpoint, ["HF_TOKEN": "wrong"]), configuration: fastConfiguration())
                .download(tiny.reranker)
        }
        let result = try await Downloader(environment: home.environment(endpoint: hub.endpoint, ["HF_TOKEN": hub.token]),
                                          configuration: fastConfiguration()).download(tiny.reranker)
        #expect(result.downloaded)
        #expect(hub.requests.filter { $0.server == "cdn" }.allSatisfy { $0.header("Authorization") == nil })
    }

    @Test func missingFilesAreReportedAs404() async throws {
        let hub = try makeHub()
        defer { hub.shutdown() }
        let home = try TemporaryHome()
        let downloader = Downloader(environment: home.environment(endpoint: hub.endpoint), configuration: fastConfiguration())
        await #expect(throws: HubError.notFoundOnHub(repo: repo, file: "nope.pth", revision: "main", detail: "Entry not found")) {
            try await downloader.download(HubFile(repo: repo, path: "nope.pth"))
        }
        await #expect(throws: HubError.notFoundOnHub(repo: "x/y", file: "a.pth", revision: "main", detail: "Repository not found")) {
            try await downloader.download(HubFile(repo: "x/y", path: "a.pth"))
        }
        #expect(!FileManager.default.fileExists(atPath: home.hubCache.path + "/models--x--y"))
    }

    @Test func aRefusedConnectionIsANetworkError() async throws {
        let home = try TemporaryHome()
        let error = await #expect(throws: HubError.self) {
            try await Downloader(environment: home.environment(), configuration: fastConfiguration()).download(tiny.reranker)
        }
        guard case .networkUnavailable = error else {
            Issue.record("expected a network error, got \(String(describing: error))")
            return
        }
        #expect(!FileManager.default.fileExists(atPath: home.hubCache.appendingPathComponent("models--howard-hou--EmbeddingRWKV").path))
    }

    @Test func offlineNeverTouchesTheNetwork() async throws {
        let hub = try makeHub()
        defer { hub.shutdown() }
        let home = try TemporaryHome()
        let offline = home.environment(endpoint: hub.endpoint, ["HF_HUB_OFFLINE": "1"])
        await #expect(throws: HubError.notCached(repo: repo, file: tiny.rerankerFile, revision: "main",
                                                 cache: home.hubCache.path, offline: true)) {
            try await Downloader(environment: offline, configuration: fastConfiguration()).download(tiny.reranker)
        }
        #expect(hub.requests.isEmpty)
        _ = try await Downloader(environment: home.environment(endpoint: hub.endpoint), configuration: fastConfiguration())
            .download(tiny.reranker)
        hub.clearLog()
        let cached = try await Downloader(environment: offline, configuration: fastConfiguration()).download(tiny.reranker)
        #expect(!cached.downloaded)
        #expect(cached.commit == hub.commit)
        #expect(hub.requests.isEmpty)
    }

    @Test func aFullDiskIsReportedBeforeWriting() async throws {
        let hub = try makeHub()
        defer { hub.shutdown() }
        let home = try TemporaryHome()
        var configuration = fastConfiguration()
        configuration.availableSpace = { _ in 1000 }
        let error = await #expect(throws: HubError.self) {
            try await Downloader(environment: home.environment(endpoint: hub.endpoint), configuration: configuration).download(tiny.reranker)
        }
        guard case .insufficientSpace(_, let needed, 1000) = error else {
            Issue.record("expected insufficient space, got \(String(describing: error))")
            return
        }
        #expect(needed == Int64(hub.file(repo: repo, path: tiny.rerankerFile)!.data.count))
        #expect(!hub.requests.contains { $0.server == "cdn" })
        #expect(home.environment().cache.cachedFile(tiny.reranker) == nil)
    }
}
