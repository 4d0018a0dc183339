import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
#if canImport(Glibc)
import Glibc
private let systemWrite = Glibc.write
private let systemClose = Glibc.close
#elseif canImport(Musl)
import Musl
private let systemWrite = Musl.write
private let systemClose = Musl.close
#elseif canImport(Darwin)
import Darwin
private let systemWrite = Darwin.write
private let systemClose = Darwin.close
#endif

/// Limits of one download: every wait is bounded, every retry counted.
public struct DownloadConfiguration: Sendable {
    /// Attempts at the transfer of one file (each resumes where the last stopped).
    public var maxAttempts = 5
    /// Pause before the first retry in seconds (doubled each time, at most 10 s).
    public var retryDelay = 1.0
    /// Seconds to connect.
    public var connectTimeout = 10.0
    /// Seconds without a byte before a transfer is abandoned (and resumed by the next attempt).
    public var readTimeout = 60.0
    /// Seconds for the metadata request as a whole.
    public var metadataTimeout = 30.0
    /// Seconds to wait for another process that downloads the same file.
    public var lockTimeout = 600.0
    public var maxRedirects = 5
    /// Free bytes at a path (tests replace it to simulate a full disk).
    public var availableSpace: @Sendable (URL) -> Int64? = { FileSystem.availableSpace($0) }

    public init() {}
}

/// One file in the cache after `Downloader.download`.
public struct DownloadResult: Sendable, Equatable {
    public var file: HubFile
    /// `snapshots/<commit>/<path>` (a symbolic link to the blob).
    public var url: URL
    public var commit: String
    /// The blob name: the sha256 for LFS files, the git hash otherwise (nil when only the cache was read).
    public var etag: String?
    public var size: Int64
    /// False when the file was already cached.
    public var downloaded: Bool
}

/// What the Hub says about a file before its bytes are fetched.
struct FileMetadata: Sendable {
    var commit: String
    var etag: String
    var size: Int64?
    /// Where the bytes are (the resolve URL, or the CDN URL it redirects to).
    var location: URL
}

/// Fetches files of Hugging Face repositories into the `HubCache`, the way `huggingface_hub` does:
/// `HEAD {endpoint}/{repo}/resolve/{revision}/{path}` for the commit, etag and size, then a GET of
/// the bytes (following the Hub's redirect to its CDN; the token goes to the Hub's own host only)
/// into `blobs/<etag>.incomplete`, resumed with `Range` after an interruption, verified (size, and
/// sha256 for LFS files) and only then renamed to `blobs/<etag>` and linked from `snapshots/`.
public final class Downloader: Sendable {
    public let environment: HubEnvironment
    public let configuration: DownloadConfiguration
    public var cache: HubCache { environment.cache }

    public init(environment: HubEnvironment, configuration: DownloadConfiguration = DownloadConfiguration()) {
        self.environment = environment
        self.configuration = configuration
    }

    /// Downloads (or finds in the cache) each file, in order.
    public func download(_ files: [HubFile], progress: DownloadProgressHandler? = nil) async throws(HubError) -> [DownloadResult] {
        if environment.offline {
            return try files.map { file throws(HubError) in try cachedResult(file, offline: true) }
        }
        let client = makeClient()
        var results: [DownloadResult] = []
        var failure: HubError?
        for file in files {
            do {
                results.append(try await download(file, client: client, progress: progress))
            } catch {
                failure = error
                break
            }
        }
        try? await client.shutdown()
        if let failure { throw failure }
        return results
    }

    public func download(_ file: HubFile, progress: DownloadProgressHandler? = nil) async throws(HubError) -> DownloadResult {
        try await download([file], progress: progress)[0]
    }

    /// The embedding model and its paired reranker of a released model.
    public func download(_ model: KnownModel, progress: DownloadProgressHandler? = nil) async throws(HubError) -> [DownloadResult] {
        try await download([model.embedding, model.reranker], progress: progress)
    }

    // MARK: - One file

    private func cachedResult(_ file: HubFile, offline: Bool) throws(HubError) -> DownloadResult {
        guard let url = cache.cachedFile(file), let size = FileSystem.regularFileSize(url) else {
            throw .notCached(repo: file.repo, file: file.path, revision: file.revision,
                             cache: cache.root.path, offline: offline)
        }
        let commit = url.deletingLastPathComponent().lastPathComponent
        return DownloadResult(file: file, url: url, commit: commit, etag: nil, size: size, downloaded: false)
    }

    private func download(_ file: HubFile, client: HTTPClient, progress: DownloadProgressHandler?) async throws(HubError) -> DownloadResult {
        let metadata: FileMetadata
        do {
            metadata = try await fetchMetadata(file, client: client)
        } catch {
            // Like huggingface_hub: without a connection, a cached copy is still good.
            switch error {
            case .networkUnavailable, .timedOut:
                if let cached = try? cachedResult(file, offline: false) {
                    progress?(.alreadyCached(file: file.path, url: cached.url))
                    return cached
                }
            default: break
            }
            throw error
        }
        let snapshot = cache.snapshot(repo: file.repo, commit: metadata.commit, path: file.path)
        let blob = cache.blob(repo: file.repo, etag: metadata.etag)

        let lock = try await FileLock(cache.lockFile(repo: file.repo, etag: metadata.etag), timeout: configuration.lockTimeout)
        defer { withExtendedLifetime(lock) {} }

        if let size = FileSystem.regularFileSize(blob), metadata.size == nil || metadata.size == size {
            let url = try cache.link(file, commit: metadata.commit, etag: metadata.etag)
            progress?(.alreadyCached(file: file.path, url: url))
            return DownloadResult(file: file, url: url, commit: metadata.commit, etag: metadata.etag, size: size, downloaded: false)
        }
        if FileSystem.entryExists(snapshot), let size = FileSystem.regularFileSize(snapshot), metadata.size == nil || metadata.size == size {
            // A snapshot that is not a link to blobs/ (a copy, say): keep it.
            try cache.recordRef(repo: file.repo, revision: file.revision, commit: metadata.commit)
            progress?(.alreadyCached(file: file.path, url: snapshot))
            return DownloadResult(file: file, url: snapshot, commit: metadata.commit, etag: metadata.etag, size: size, downloaded: false)
        }

        try FileSystem.createDirectory(cache.blobsFolder(file.repo))
        let incomplete = cache.incompleteBlob(repo: file.repo, etag: metadata.etag)
        try await transferWithRetries(file, metadata: metadata, to: incomplete, client: client, progress: progress)
        let size = try verify(incomplete, file: file, metadata: metadata)
        try FileSystem.rename(incomplete, to: blob)
        let url = try cache.link(file, commit: metadata.commit, etag: metadata.etag)
        progress?(.finished(file: file.path, url: url, bytes: size))
        return DownloadResult(file: file, url: url, commit: metadata.commit, etag: metadata.etag, size: size, downloaded: true)
    }

    // MARK: - Metadata

    /// `{endpoint}/{repo}/resolve/{revision}/{path}`.
    public func resolveURL(_ file: HubFile) -> URL {
        var pathAllowed = CharacterSet.urlPathAllowed
        pathAllowed.remove(charactersIn: "?#;")
        var componentAllowed = pathAllowed
        componentAllowed.remove("/")
        let revision = file.revision.addingPercentEncoding(withAllowedCharacters: componentAllowed) ?? file.revision
        let path = file.path.addingPercentEncoding(withAllowedCharacters: pathAllowed) ?? file.path
        return URL(string: "\(environment.endpoint.absoluteString)/\(file.repo)/resolve/\(revision)/\(path)")!
    }

    func fetchMetadata(_ file: HubFile, client: HTTPClient) async throws(HubError) -> FileMetadata {
        var url = resolveURL(file)
        for _ in 0...configuration.maxRedirects {
            let response = try await send(.HEAD, url, client: client, timeout: configuration.metadataTimeout)
            let headers = response.headers
            let commit = headers.first(name: "X-Repo-Commit")
            let etag = (headers.first(name: "X-Linked-Etag") ?? headers.first(name: "ETag")).map(Self.normalizeETag)
            let size = (headers.first(name: "X-Linked-Size") ?? headers.first(name: "Content-Length")).flatMap { Int64($0) }
            let code = Int(response.status.code)
            switch code {
            case 200..<300, 300..<400:
                var location = url
                if (300..<400).contains(code) {
                    guard let target = headers.first(name: "Location").flatMap({ URL(string: $0, relativeTo: url)?.absoluteURL }) else {
                        throw .invalidResponse(url: url.absoluteString, reason: "a redirect without a valid Location")
                    }
                    location = target
                    // Like huggingface_hub: redirects on the Hub itself (a renamed repository, the
                    // resolve cache) are followed; the metadata is that of the redirect elsewhere (the CDN).
                    if Self.sameOrigin(target, url) {
                        url = target
                        continue
                    }
                }
                guard let commit, !commit.isEmpty else {
                    throw .invalidResponse(url: url.absoluteString, reason: "no X-Repo-Commit header (is HF_ENDPOINT a Hugging Face Hub?)")
                }
                guard let etag, !etag.isEmpty, !etag.contains("/"), etag != "." , etag != ".." else {
                    throw .invalidResponse(url: url.absoluteString, reason: "no usable ETag header")
                }
                let linkedSize = headers.first(name: "X-Linked-Size").flatMap { Int64($0) }
                return FileMetadata(commit: commit, etag: etag,
                                    size: (300..<400).contains(code) ? linkedSize : size, location: location)
            default:
                throw statusError(code, url: url, file: file, headers: headers)
            }
        }
        throw .invalidResponse(url: url.absoluteString, reason: "too many redirects")
    }

    /// `W/"abc"` -> `abc`.
    static func normalizeETag(_ value: String) -> String {
        var text = value.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("W/") { text.removeFirst(2) }
        return text.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }

    private func statusError(_ code: Int, url: URL, file: HubFile, headers: HTTPHeaders) -> HubError {
        switch code {
        case 401:
            return .unauthorized(repo: file.repo, tokenSent: environment.token != nil && Self.sameOrigin(url, environment.endpoint))
        case 403:
            return .forbidden(repo: file.repo)
        case 404:
            let detail = headers.first(name: "X-Error-Message") ?? headers.first(name: "X-Error-Code")
            return .notFoundOnHub(repo: file.repo, file: file.path, revision: file.revision, detail: detail)
        default:
            return .httpStatus(code: code, url: url.absoluteString)
        }
    }

    // MARK: - Transfer

    private func transferWithRetries(_ file: HubFile, metadata: FileMetadata, to incomplete: URL,
                                     client: HTTPClient, progress: DownloadProgressHandler?) async throws(HubError) {
        let attempts = max(1, configuration.maxAttempts)
        var delay = configuration.retryDelay
        for attempt in 1...attempts {
            do {
                try await transfer(file, metadata: metadata, to: incomplete, client: client, progress: progress, firstAttempt: attempt == 1)
                return
            } catch {
                guard Self.isRetryable(error) else { throw error }
                guard attempt < attempts else {
                    throw .retriesExhausted(file: file.path, attempts: attempts, lastError: error.description)
                }
                progress?(.retrying(file: file.path, attempt: attempt + 1, reason: error.description))
                if delay > 0 { try? await Task.sleep(nanoseconds: UInt64(delay * 1e9)) }
                delay = min(10, delay * 2)
            }
        }
    }

    static func isRetryable(_ error: HubError) -> Bool {
        switch error {
        case .networkUnavailable, .timedOut: return true
        case let .httpStatus(code, _): return code >= 500 || code == 408 || code == 429 || code == 416
        default: return false
        }
    }

    private func transfer(_ file: HubFile, metadata: FileMetadata, to incomplete: URL, client: HTTPClient,
                          progress: DownloadProgressHandler?, firstAttempt: Bool) async throws(HubError) {
        let output = try OutputFile(incomplete)
        defer { output.close() }
        var offset = output.size
        if let expected = metadata.size, offset > expected {
            try output.truncate()
            offset = 0
        }
        if let expected = metadata.size {
            let needed = expected - offset
            if let available = configuration.availableSpace(incomplete.deletingLastPathComponent()), available < needed {
                throw .insufficientSpace(path: incomplete.deletingLastPathComponent().path, needed: needed, available: available)
            }
            if needed == 0 { return }
        }
        if firstAttempt { progress?(.started(file: file.path, total: metadata.size, resumedFrom: offset)) }

        var url = metadata.location
        var redirects = 0
        while true {
            let range = offset > 0 ? "bytes=\(offset)-" : nil
            let response = try await send(.GET, url, client: client, timeout: nil, range: range)
            let code = Int(response.status.code)
            if (300..<400).contains(code) {
                await Self.drain(response)
                guard redirects < configuration.maxRedirects,
                      let target = response.headers.first(name: "Location").flatMap({ URL(string: $0, relativeTo: url)?.absoluteURL }) else {
                    throw .invalidResponse(url: url.absoluteString, reason: "too many redirects or no Location")
                }
                redirects += 1
                url = target
                continue
            }
            switch code {
            case 206:
                let start = response.headers.first(name: "Content-Range").flatMap(Self.rangeStart)
                guard start == offset else {
                    await Self.drain(response)
                    try output.truncate()
                    throw .httpStatus(code: 416, url: url.absoluteString)   // retried from zero
                }
            case 200:
                if offset > 0 { try output.truncate(); offset = 0 }   // the server ignored Range
            case 416:
                await Self.drain(response)
                try output.truncate()
                throw .httpStatus(code: 416, url: url.absoluteString)
            default:
                await Self.drain(response)
                throw statusError(code, url: url, file: file, headers: response.headers)
            }
            // Bytes go to disk as they come; a write failure (a full disk) stops the transfer.
            var writeError: Int32?
            do {
                for try await buffer in response.body {
                    writeError = output.append(buffer)
                    if writeError != nil { break }
                    offset += Int64(buffer.readableBytes)
                    progress?(.progress(file: file.path, received: offset, total: metadata.size))
                }
            } catch {
                throw Self.networkError(error, url: url)
            }
            if let writeError {
                let folder = incomplete.deletingLastPathComponent()
                if writeError == ENOSPC || writeError == EDQUOT {
                    throw .insufficientSpace(path: folder.path, needed: max(1, (metadata.size ?? 0) - offset),
                                             available: configuration.availableSpace(folder))
                }
                throw .fileSystem(path: incomplete.path, reason: FileSystem.errnoText(writeError))
            }
            return
        }
    }

    /// `bytes 100-199/200` -> 100.
    static func rangeStart(_ header: String) -> Int64? {
        let text = header.trimmingCharacters(in: .whitespaces)
        guard text.hasPrefix("bytes ") else { return nil }
        return text.dropFirst(6).split(separator: "-").first.flatMap { Int64($0) }
    }

    /// Checks size and sha256 of a finished `.incomplete` file; removes it when it is wrong.
    private func verify(_ incomplete: URL, file: HubFile, metadata: FileMetadata) throws(HubError) -> Int64 {
        let size = FileSystem.regularFileSize(incomplete) ?? 0
        if let expected = metadata.size, expected != size {
            FileSystem.remove(incomplete)
            throw .sizeMismatch(file: file.path, expected: expected, actual: size)
        }
        let etag = metadata.etag.lowercased()
        if etag.count == 64, etag.allSatisfy(\.isHexDigit) {
            let actual = try Self.sha256(of: incomplete)
            if actual != etag {
                FileSystem.remove(incomplete)
                throw .checksumMismatch(file: file.path, expected: etag, actual: actual)
            }
        }
        return size
    }

    /// The sha256 of a file, in lower-case hex.
    public static func sha256(of url: URL) throws(HubError) -> String {
        guard let handle = try? FileHandle(forReadingFrom: url) else {
            throw .fileSystem(path: url.path, reason: "cannot read the file")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while true {
            let chunk: Data?
            do { chunk = try handle.read(upToCount: 4 << 20) } catch {
                throw .fileSystem(path: url.path, reason: error.localizedDescription)
            }
            guard let chunk, !chunk.isEmpty else { break }
            hasher.update(data: chunk)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    // MARK: - HTTP

    private func makeClient() -> HTTPClient {
        var config = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(Int64(configuration.connectTimeout * 1000)),
                           read: .milliseconds(Int64(configuration.readTimeout * 1000))),
            decompression: .disabled)
        config.httpVersion = .http1Only
        // Fail fast when the host cannot be reached (offline machines fall back at once);
        // the transfer has its own bounded, resuming retries.
        config.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    private func send(_ method: HTTPMethod, _ url: URL, client: HTTPClient, timeout: Double?,
                      range: String? = nil) async throws(HubError) -> HTTPClientResponse {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = method
        request.headers.add(name: "User-Agent", value: "rwkv-emb/0.1; hf_hub-compatible")
        request.headers.add(name: "Accept-Encoding", value: "identity")
        if let token = environment.token, Self.sameOrigin(url, environment.endpoint) {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        if let range { request.headers.add(name: "Range", value: range) }
        do {
            // The whole request is bounded by a deadline only for metadata; transfers by the read timeout.
            return try await client.execute(request, timeout: .seconds(Int64(timeout ?? 365 * 24 * 3600)))
        } catch {
            throw Self.networkError(error, url: url)
        }
    }

    private static func drain(_ response: HTTPClientResponse) async {
        _ = try? await response.body.collect(upTo: 1 << 20)
    }

    /// The token goes only where the Hub is: same scheme, host and port.
    public static func sameOrigin(_ a: URL, _ b: URL) -> Bool {
        func port(_ url: URL) -> Int? { url.port ?? (url.scheme?.lowercased() == "https" ? 443 : url.scheme?.lowercased() == "http" ? 80 : nil) }
        return a.scheme?.lowercased() == b.scheme?.lowercased() && a.host?.lowercased() == b.host?.lowercased() && port(a) == port(b)
    }

    static func networkError(_ error: any Error, url: URL) -> HubError {
        let host = url.host.map { h in url.port.map { "\(h):\($0)" } ?? h } ?? url.absoluteString
        if let error = error as? HubError { return error }
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout, .readTimeout, .deadlineExceeded, .getConnectionFromPoolTimeout, .tlsHandshakeTimeout:
                return .timedOut(host: host)
            case .remoteConnectionClosed:
                return .networkUnavailable(host: host, reason: "the connection was closed before the transfer finished")
            case .invalidURL, .emptyHost, .emptyScheme:
                return .invalidResponse(url: url.absoluteString, reason: "invalid URL")
            default:
                break
            }
        }
        if error is CancellationError {
            return .networkUnavailable(host: host, reason: "cancelled")
        }
        let text = String(describing: error)
        let lowered = text.lowercased()
        let reason: String
        if lowered.contains("refused") {
            reason = "connection refused"
        } else if lowered.contains("dns") || lowered.contains("resolve") || lowered.contains("unknown host") || lowered.contains("name or service") {
            reason = "the host name cannot be resolved (no network?)"
        } else if lowered.contains("unreachable") {
            reason = "the network is unreachable"
        } else if lowered.contains("eof") || lowered.contains("reset") || lowered.contains("closed") {
            reason = "the connection was interrupted"
        } else {
            reason = String(text.prefix(200))
        }
        return .networkUnavailable(host: host, reason: reason)
    }
}

/// The `.incomplete` file a download appends to (POSIX calls, so a full disk is reported as such).
private final class OutputFile {
    private var descriptor: Int32
    let url: URL

    init(_ url: URL) throws(HubError) {
        self.url = url
        descriptor = open(url.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard descriptor >= 0 else {
            throw .fileSystem(path: url.path, reason: "cannot open for writing: \(FileSystem.errnoText())")
        }
    }

    var size: Int64 {
        var info = stat()
        return fstat(descriptor, &info) == 0 ? Int64(info.st_size) : 0
    }

    func truncate() throws(HubError) {
        guard ftruncate(descriptor, 0) == 0 else {
            throw .fileSystem(path: url.path, reason: "cannot truncate: \(FileSystem.errnoText())")
        }
    }

    /// Appends the bytes; returns the errno of a failed write (nil when all went to disk).
    func append(_ buffer: ByteBuffer) -> Int32? {
        buffer.withUnsafeReadableBytes { bytes in
            var done = 0
            while done < bytes.count {
                let written = systemWrite(descriptor, bytes.baseAddress! + done, bytes.count - done)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                done += written
            }
            return nil
        }
    }

    func close() {
        if descriptor >= 0 { _ = systemClose(descriptor) }
        descriptor = -1
    }
}
