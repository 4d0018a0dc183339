import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A real HTTP server on loopback that answers like the Hugging Face Hub:
///
/// - `HEAD|GET /{owner}/{repo}/resolve/{revision}/{path}`: for an LFS file a 302 to the second
///   server ("the CDN", another port) with `X-Repo-Commit`, `X-Linked-Etag` (sha256), `X-Linked-Size`;
///   for a regular file a 200 with `ETag` (git sha1), `X-Repo-Commit` and the bytes;
///   401 for a private repository without the right token; 404 with `X-Error-Code` otherwise.
/// - `GET /cdn/{sha256}` on either port: the bytes, honouring `Range` (206 + `Content-Range`);
///   it can drop the connection midway through the body, or serve corrupted bytes.
final class FakeHub: @unchecked Sendable {
    struct File {
        var data: [UInt8]
        var lfs: Bool
        var sha256: String { Self.hex(SHA256.hash(data: data)) }
        var gitSHA1: String { Self.hex(Insecure.SHA1.hash(data: Array("blob \(data.count)\0".utf8) + data)) }
        static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
            digest.map { String(format: "%02x", $0) }.joined()
        }
    }

    struct Request: Sendable {
        var server: String   // "hub" or "cdn"
        var method: String
        var uri: String
        var headers: [(String, String)]

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    let commit = "0123456789abcdef0123456789abcdef01234567"
    let token = "hf_test_token"

    private let lock = NSLock()
    private var repos: [String: [String: File]] = [:]
    private var privateRepos: Set<String> = []
    private var log: [Request] = []
    /// The next `dropCount` CDN transfers close the connection after `dropAfterBytes` bytes of body.
    private var dropCount = 0
    private var dropAfterBytes = 0
    private var corrupt = false
    /// Gated repositories: 403 whatever the token.
    private var gatedRepos: Set<String> = []
    /// The next `failCount` CDN transfers answer `failStatus` (a 503, say).
    private var failCount = 0
    private var failStatus = HTTPResponseStatus.serviceUnavailable
    /// Renamed repositories: old name -> new name (answered with a relative 307, like the Hub).
    private var renames: [String: String] = [:]

    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var channels: [Channel] = []
    private(set) var hubPort = 0
    private(set) var cdnPort = 0

    var endpoint: URL { URL(string: "http://127.0.0.1:\(hubPort)")! }

    init() throws {
        let hub = try bind(role: "hub")
        let cdn = try bind(role: "cdn")
        hubPort = hub.localAddress!.port!
        cdnPort = cdn.localAddress!.port!
        channels = [hub, cdn]
    }

    private func bind(role: String) throws -> Channel {
        try ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(Handler(hub: self, role: role))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .wait()
    }

    func shutdown() {
        for channel in channels { try? channel.close().wait() }
        try? group.syncShutdownGracefully()
    }

    // MARK: Configuration (thread-safe)

    func add(repo: String, path: String, data: [UInt8], lfs: Bool = true, isPrivate: Bool = false) {
        locked {
            repos[repo, default: [:]][path] = File(data: data, lfs: lfs)
            if isPrivate { privateRepos.insert(repo) }
        }
    }

    func file(repo: String, path: String) -> File? { locked { repos[repo]?[path] } }

    func dropNextTransfers(_ count: Int, afterBytes: Int) { locked { dropCount = count; dropAfterBytes = afterBytes } }
    func setCorrupt(_ value: Bool) { locked { corrupt = value } }
    func rename(_ old: String, to new: String) { locked { renames[old] = new } }
    func gate(_ repo: String) { locked { _ = gatedRepos.insert(repo) } }
    func failNextTransfers(_ count: Int, status: HTTPResponseStatus) { locked { failCount = count; failStatus = status } }
    var requests: [Request] { locked { log } }
    func clearLog() { locked { log.removeAll() } }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    // MARK: Routing

    enum Reply {
        case respond(status: HTTPResponseStatus, headers: [(String, String)], body: [UInt8])
        case dropAfter(headers: [(String, String)], status: HTTPResponseStatus, body: [UInt8], keep: Int)
    }

    func route(_ head: HTTPRequestHead, role: String) -> Reply {
        locked {
            log.append(Request(server: role, method: head.method.rawValue, uri: head.uri,
                               headers: head.headers.map { ($0.name, $0.value) }))
        }
        let path = head.uri.split(separator: "?").first.map(String.init) ?? head.uri
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map { String($0).removingPercentEncoding ?? String($0) }
        let isHead = head.method == .HEAD
        if parts.count == 2, parts[0] == "cdn" {
            return serveCDN(sha: parts[1], head: head)
        }
        guard parts.count >= 5, parts[2] == "resolve" else {
            return .respond(status: .notFound, headers: [("X-Error-Code", "NotFound")], body: [])
        }
        let repo = parts[0] + "/" + parts[1]
        let revision = parts[3]
        let filePath = parts[4...].joined(separator: "/")
        if let renamed = locked({ renames[repo] }) {
            let rest = parts[2...].map { $0.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? $0 }
            return .respond(status: .temporaryRedirect, headers: [("Location", "/\(renamed)/" + rest.joined(separator: "/"))], body: [])
        }
        let (files, isPrivate, isGated) = locked { (repos[repo], privateRepos.contains(repo), gatedRepos.contains(repo)) }
        if isGated {
            return .respond(status: .forbidden, headers: [("X-Error-Code", "GatedRepo")], body: [])
        }
        if isPrivate, head.headers.first(name: "Authorization") != "Bearer \(token)" {
            return .respond(status: .unauthorized, headers: [("X-Error-Code", "RepoNotFound")], body: [])
        }
        guard let files else {
            return .respond(status: .notFound, headers: [("X-Error-Code", "RepoNotFound"),
                                                         ("X-Error-Message", "Repository not found")], body: [])
        }
        guard revision == "main" || revision == commit else {
            return .respond(status: .notFound, headers: [("X-Error-Code", "RevisionNotFound")], body: [])
        }
        guard let file = files[filePath] else {
            return .respond(status: .notFound, headers: [("X-Error-Code", "EntryNotFound"),
                                                         ("X-Error-Message", "Entry not found")], body: [])
        }
        if file.lfs {
            return .respond(status: .found, headers: [
                ("Location", "http://127.0.0.1:\(cdnPort)/cdn/\(file.sha256)"),
                ("X-Repo-Commit", commit),
                ("X-Linked-Etag", "\"\(file.sha256)\""),
                ("X-Linked-Size", "\(file.data.count)"),
                ("ETag", "\"\(file.sha256)\""),
            ], body: [])
        }
        return .respond(status: .ok, headers: [
            ("X-Repo-Commit", commit),
            ("ETag", "\"\(file.gitSHA1)\""),
        ], body: isHead ? [] : file.data)
    }

    private func serveCDN(sha: String, head: HTTPRequestHead) -> Reply {
        let (found, corrupt, drop) = locked { () -> (File?, Bool, Int?) in
            let file = repos.values.flatMap(\.values).first { $0.sha256 == sha }
            var drop: Int?
            if file != nil, head.method == .GET, dropCount > 0 {
                dropCount -= 1
                drop = dropAfterBytes
            }
            return (file, self.corrupt, drop)
        }
        guard var data = found?.data else { return .respond(status: .notFound, headers: [], body: []) }
        if let status = locked({ () -> HTTPResponseStatus? in
            guard head.method == .GET, failCount > 0 else { return nil }
            failCount -= 1
            return failStatus
        }) {
            return .respond(status: status, headers: [], body: Array("temporarily unavailable".utf8))
        }
        if corrupt, !data.isEmpty { data[data.count / 2] ^= 0xFF }
        var start = 0
        var status = HTTPResponseStatus.ok
        var headers: [(String, String)] = [("ETag", "\"\(sha)\""), ("Accept-Ranges", "bytes")]
        if let range = head.headers.first(name: "Range"), range.hasPrefix("bytes="),
           let from = Int(range.dropFirst(6).split(separator: "-").first ?? "") {
            guard from < data.count else {
                return .respond(status: .rangeNotSatisfiable, headers: [("Content-Range", "bytes */\(data.count)")], body: [])
            }
            start = from
            status = .partialContent
            headers.append(("Content-Range", "bytes \(from)-\(data.count - 1)/\(data.count)"))
        }
        let body = Array(data[start...])
        if let drop {
            return .dropAfter(headers: headers, status: status, body: body, keep: min(drop, body.count))
        }
        return .respond(status: status, headers: headers, body: head.method == .HEAD ? [] : body)
    }

    /// One connection's request handling.
    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let hub: FakeHub
        let role: String
        var head: HTTPRequestHead?

        init(hub: FakeHub, role: String) {
            self.hub = hub
            self.role = role
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case let .head(head): self.head = head
            case .body: break
            case .end:
                guard let head else { return }
                reply(hub.route(head, role: role), head: head, context: context)
            }
        }

        private func reply(_ reply: Reply, head: HTTPRequestHead, context: ChannelHandlerContext) {
            switch reply {
            case let .respond(status, headers, body):
                var fields = HTTPHeaders(headers)
                if fields.first(name: "Content-Length") == nil {
                    // HEAD answers announce the size a GET would get.
                    let length = head.method == .HEAD ? contentLengthForHead(headers: headers, status: status) : body.count
                    fields.add(name: "Content-Length", value: "\(length)")
                }
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: fields))), promise: nil)
                if !body.isEmpty {
                    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
                }
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            case let .dropAfter(headers, status, body, keep):
                // Announce the whole body, send part of it, hang up.
                var fields = HTTPHeaders(headers)
                fields.add(name: "Content-Length", value: "\(body.count)")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: fields))), promise: nil)
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body.prefix(keep)))))).whenComplete { _ in
                    channel.close(promise: nil)
                }
            }
        }

        private func contentLengthForHead(headers: [(String, String)], status: HTTPResponseStatus) -> Int {
            if status == .found { return 0 }
            guard let uri = head?.uri else { return 0 }
            let parts = uri.split(separator: "/").map(String.init)
            if parts.count >= 5, let repo = Optional(parts[0] + "/" + parts[1]),
               let file = hub.file(repo: repo, path: parts[4...].joined(separator: "/")) {
                return file.data.count
            }
            return 0
        }
    }
}
