import Foundation
import Testing
@testable import RWKVHub

@Suite struct ModelReferenceTests {
    @Test func knownNamesResolveCaseInsensitively() throws {
        let reference = try ModelReference.parse("Tiny", currentDirectory: URL(fileURLWithPath: "/nonexistent-dir"))
        #expect(reference == .known(KnownModels.named("tiny")!))
        #expect(KnownModels.named("base")?.embeddingFile == "rwkv0b4-emb-curriculum.pth")
        #expect(KnownModels.named("large")?.rerankerFile == "rwkv1b3-reranker.pth")
    }

    @Test func hubReferencesParse() throws {
        #expect(try ModelReference.parseHubReference("hf:howard-hou/EmbeddingRWKV/rwkv0b1-reranker.pth")
            == HubFile(repo: "howard-hou/EmbeddingRWKV", path: "rwkv0b1-reranker.pth", revision: "main"))
        #expect(try ModelReference.parseHubReference("hf:a/b/sub/dir/model.pth@v1.0")
            == HubFile(repo: "a/b", path: "sub/dir/model.pth", revision: "v1.0"))
        let file = try ModelReference.parseHubReference("hf:a/b/c.pth@0123456789abcdef0123456789abcdef01234567")
        #expect(file.revision.count == 40)
        #expect(file.description == "hf:a/b/c.pth@0123456789abcdef0123456789abcdef01234567")
    }

    @Test(arguments: ["hf:", "hf:owner", "hf:owner/repo", "hf:owner/repo/", "hf:owner/repo/file@", "hf:owner/repo/../x.pth", "hf:owner//x.pth"])
    func badHubReferencesAreRejected(_ text: String) {
        #expect(throws: HubError.self) { try ModelReference.parseHubReference(text) }
    }

    @Test func existingPathsWinAndMissingOnesAreReported() throws {
        let home = try TemporaryHome()
        let file = home.url.appendingPathComponent("tiny")
        try Data([1]).write(to: file)
        #expect(try ModelReference.parse("tiny", currentDirectory: home.url) == .file(file.standardizedFileURL))
        #expect(try ModelReference.parse(home.url.path) == .directory(home.url.standardizedFileURL))
        #expect(throws: HubError.pathNotFound("missing/model.pth")) {
            try ModelReference.parse("missing/model.pth", currentDirectory: home.url)
        }
        #expect(throws: HubError.unknownModel("huge", known: ["tiny", "base", "large"])) {
            try ModelReference.parse("huge", currentDirectory: home.url)
        }
    }

    @Test func errorsReadAsSentences() {
        let error = HubError.notCached(repo: "o/r", file: "f.pth", revision: "main", cache: "/c", offline: true)
        #expect(error.description.contains("HF_HUB_OFFLINE"))
        #expect(HubError.unauthorized(repo: "o/r", tokenSent: false).description.contains("HF_TOKEN"))
        #expect(ByteCount.format(999) == "999 B")
        #expect(ByteCount.format(1_500_000) == "1.5 MB")
    }
}

@Suite struct HubEnvironmentTests {
    @Test func cacheFolderPrecedence() {
        #expect(HubEnvironment(["HOME": "/h"]).cacheDirectory.path == "/h/.cache/huggingface/hub")
        #expect(HubEnvironment(["HOME": "/h", "XDG_CACHE_HOME": "/x"]).cacheDirectory.path == "/x/huggingface/hub")
        #expect(HubEnvironment(["HOME": "/h", "HF_HOME": "/hf"]).cacheDirectory.path == "/hf/hub")
        #expect(HubEnvironment(["HOME": "/h", "HF_HOME": "/hf", "HF_HUB_CACHE": "/cache"]).cacheDirectory.path == "/cache")
        #expect(HubEnvironment(["HOME": "/h", "HUGGINGFACE_HUB_CACHE": "/old"]).cacheDirectory.path == "/old")
        #expect(HubEnvironment(["HOME": "/h", "HF_HOME": "~/hf"]).cacheDirectory.path == "/h/hf/hub")
    }

    @Test func endpointTokenAndOffline() throws {
        let home = try TemporaryHome()
        var environment = HubEnvironment(["HOME": home.url.path, "HF_HOME": home.url.path])
        #expect(environment.endpoint.absoluteString == "https://huggingface.co")
        #expect(environment.token == nil)
        #expect(!environment.offline)
        try "hf_from_file\n".write(to: home.url.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        environment = HubEnvironment(["HOME": home.url.path, "HF_HOME": home.url.path, "HF_ENDPOINT": "http://mirror:8080/",
                                      "HF_HUB_OFFLINE": "1"])
        #expect(environment.endpoint.absoluteString == "http://mirror:8080")
        #expect(environment.token == "hf_from_file")
        #expect(environment.offline)
        environment = HubEnvironment(["HOME": home.url.path, "HF_HOME": home.url.path, "HF_TOKEN": "hf_env", "HF_HUB_OFFLINE": "0"])
        #expect(environment.token == "hf_env")
        #expect(!environment.offline)
    }

    @Test func cacheLayoutNames() {
        let cache = HubCache(root: URL(fileURLWithPath: "/c"))
        #expect(HubCache.folderName(repo: "howard-hou/EmbeddingRWKV") == "models--howard-hou--EmbeddingRWKV")
        #expect(cache.blob(repo: "o/r", etag: "abc").path == "/c/models--o--r/blobs/abc")
        #expect(cache.incompleteBlob(repo: "o/r", etag: "abc").path == "/c/models--o--r/blobs/abc.incomplete")
        #expect(cache.refFile(repo: "o/r", revision: "main").path == "/c/models--o--r/refs/main")
        #expect(HubCache.relativeBlobPath(path: "model.pth", etag: "abc") == "../../blobs/abc")
        #expect(HubCache.relativeBlobPath(path: "sub/model.pth", etag: "abc") == "../../../blobs/abc")
    }
}

@Suite struct ProgressReporterTests {
    @Test func barShowsBytesRateAndETA() {
        let bar = ProgressReporter.bar(received: 50_000_000, total: 100_000_000, rate: 10_000_000, width: 10)
        #expect(bar == "[=====>    ]   50%  50.0 MB / 100.0 MB  10.0 MB/s  ETA 0:05")
        #expect(ProgressReporter.duration(3725) == "1:02:05")
        #expect(ProgressReporter.bar(received: 10, total: nil, rate: nil) == "10 B")
    }

    @Test func plainLinesWhenNotATerminal() {
        let output = Output()
        let reporter = ProgressReporter(interactive: false, write: { output.append($0) }, clock: { 0 })
        reporter.handle(.started(file: "f.pth", total: 1000, resumedFrom: 0))
        for received in stride(from: 100, through: 1000, by: 50) {
            reporter.handle(.progress(file: "f.pth", received: Int64(received), total: 1000))
        }
        reporter.handle(.finished(file: "f.pth", url: URL(fileURLWithPath: "/x/f.pth"), bytes: 1000))
        let lines = output.text.split(separator: "\n")
        #expect(lines.first == "Downloading f.pth (1.0 kB)")
        #expect(lines.count == 12)   // header, 10%..100%, done
        #expect(!output.text.contains("\r"))
        #expect(lines.last?.hasPrefix("Downloaded f.pth") == true)
    }

    final class Output: @unchecked Sendable {
        private let lock = NSLock()
        private var value = ""
        var text: String { lock.lock(); defer { lock.unlock() }; return value }
        func append(_ text: String) { lock.lock(); value += text; lock.unlock() }
    }
}
