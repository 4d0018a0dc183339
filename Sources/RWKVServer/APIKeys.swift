import Foundation

/// What an API key may do. Each route needs one scope (see `RouteAccess`); a key without listed
/// scopes has all three.
public enum APIScope: String, Sendable, CaseIterable, Comparable {
    /// Embed, rerank, tokenize, search, list and read collections.
    case read
    /// Add, replace and delete documents; compact.
    case write
    /// Create and delete collections.
    case admin

    public static func < (a: APIScope, b: APIScope) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// One accepted bearer token and its scopes, e.g. from `serve --api-key KEY[:scope,...]` or a keys file.
public struct APIKey: Sendable, Equatable {
    public var secret: String
    public var scopes: Set<APIScope>

    public init(secret: String, scopes: Set<APIScope> = Set(APIScope.allCases)) {
        self.secret = secret
        self.scopes = scopes
    }

    /// Parses `KEY` (every scope) or `KEY:scope,scope` (the text after the last `:`).
    public init(parsing text: String) throws(APIKeyError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let colon = trimmed.lastIndex(of: ":") else {
            guard !trimmed.isEmpty else { throw .emptyKey }
            self.init(secret: trimmed)
            return
        }
        let secret = String(trimmed[..<colon])
        guard !secret.isEmpty else { throw .emptyKey }
        var scopes: Set<APIScope> = []
        for name in trimmed[trimmed.index(after: colon)...].split(separator: ",", omittingEmptySubsequences: false) {
            let name = name.trimmingCharacters(in: .whitespaces).lowercased()
            guard let scope = APIScope(rawValue: name) else { throw .unknownScope(name) }
            scopes.insert(scope)
        }
        self.init(secret: secret, scopes: scopes)
    }

    /// The key whose secret equals `token`, comparing with every key whichever matches.
    static func match(_ token: [UInt8], in keys: [APIKey]) -> APIKey? {
        var found: APIKey?
        for key in keys where constantTimeEqual(token, key.secret.utf8) && found == nil { found = key }
        return found
    }

    /// A keys file: one `KEY[:scope,...]` per line; blank lines and lines starting with `#` are skipped.
    public static func load(contentsOf url: URL) throws(APIKeyError) -> [APIKey] {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw .unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        var keys: [APIKey] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            do { keys.append(try APIKey(parsing: line)) } catch {
                throw .badLine(path: url.path, line: number + 1, reason: error.description)
            }
        }
        return keys
    }
}

/// A key argument or keys file that cannot be used.
public enum APIKeyError: Error, Equatable, Sendable, CustomStringConvertible {
    case emptyKey
    case unknownScope(String)
    case unreadableFile(path: String, reason: String)
    case badLine(path: String, line: Int, reason: String)

    public var description: String {
        switch self {
        case .emptyKey: "an API key is empty"
        case let .unknownScope(name):
            "unknown API key scope '\(name)' (scopes: \(APIScope.allCases.map(\.rawValue).joined(separator: ", ")); "
                + "write KEY:scope,scope, or KEY alone for every scope)"
        case let .unreadableFile(path, reason): "cannot read the API keys file '\(path)': \(reason)"
        case let .badLine(path, line, reason): "\(path):\(line): \(reason)"
        }
    }
}

/// Which scope a request needs: nil for the public routes (TEI's rule: health, ping, metrics,
/// docs, OpenAPI document). Unknown collection sub-routes that change something need `write`.
enum RouteAccess {
    static let publicPaths: Set<String> = ["/health", "/ping", "/metrics", "/docs", "/api-doc/openapi.json"]

    static func requiredScope(method: String, path: String) -> APIScope? {
        var path = path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        if publicPaths.contains(path) || path.hasPrefix("/docs/") { return nil }
        let isRead = method == "GET" || method == "HEAD"
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.first == "collections" else { return .read }   // the inference routes: embed, rerank, tokenize, ...
        switch parts.count {
        case 1: return isRead ? .read : .admin                          // list / create
        case 2: return isRead ? .read : .admin                          // info / delete the collection
        default: return isRead || parts[2] == "search" ? .read : .write  // documents, search, compact, ...
        }
    }
}

/// Compares secrets in time that depends only on their lengths' maximum, never on where they differ.
func constantTimeEqual(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
    let a = Array(a), b = Array(b)
    var diff = UInt8(a.count == b.count ? 0 : 1)
    for i in 0..<max(a.count, b.count) {
        diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
    }
    return diff == 0
}
