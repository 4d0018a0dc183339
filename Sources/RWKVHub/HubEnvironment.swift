import Foundation

/// The settings the Hugging Face tools read from the environment, read from an explicit
/// dictionary (tests pass their own; the CLI passes `ProcessInfo.processInfo.environment`).
///
/// - `HF_HUB_CACHE` (or the older `HUGGINGFACE_HUB_CACHE`): the cache folder; else `$HF_HOME/hub`;
///   else `$XDG_CACHE_HOME/huggingface/hub`; else `~/.cache/huggingface/hub`.
/// - `HF_ENDPOINT`: the Hub (default `https://huggingface.co`).
/// - `HF_TOKEN` (or `HUGGING_FACE_HUB_TOKEN`), else the token file `HF_TOKEN_PATH` / `$HF_HOME/token`
///   that `huggingface-cli login` writes.
/// - `HF_HUB_OFFLINE=1`: never touch the network.
/// - `RWKV_EMB_FALLBACK_DIR`: the folder of the small test model used when the default model is unavailable.
public struct HubEnvironment: Sendable {
    public var cacheDirectory: URL
    public var endpoint: URL
    public var token: String?
    public var offline: Bool
    public var fallbackDirectory: URL?
    /// The variables this was read from.
    public var variables: [String: String]

    public static let defaultEndpoint = URL(string: "https://huggingface.co")!

    public init(_ variables: [String: String]) {
        self.variables = variables
        func value(_ name: String) -> String? {
            guard let text = variables[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else {
                return nil
            }
            return text
        }
        let home = value("HOME").map { URL(fileURLWithPath: $0, isDirectory: true) }
            ?? FileManager.default.homeDirectoryForCurrentUser
        func expand(_ path: String) -> URL {
            URL(fileURLWithPath: path.hasPrefix("~/") ? home.path + path.dropFirst(1) : path, isDirectory: true)
        }
        let hfHome = value("HF_HOME").map(expand)
            ?? value("XDG_CACHE_HOME").map { expand($0).appendingPathComponent("huggingface", isDirectory: true) }
            ?? home.appendingPathComponent(".cache/huggingface", isDirectory: true)
        cacheDirectory = (value("HF_HUB_CACHE") ?? value("HUGGINGFACE_HUB_CACHE")).map(expand)
            ?? hfHome.appendingPathComponent("hub", isDirectory: true)

        var endpointText = value("HF_ENDPOINT") ?? Self.defaultEndpoint.absoluteString
        while endpointText.hasSuffix("/") { endpointText.removeLast() }
        endpoint = URL(string: endpointText) ?? Self.defaultEndpoint

        if let token = value("HF_TOKEN") ?? value("HUGGING_FACE_HUB_TOKEN") {
            self.token = token
        } else {
            let tokenFile = value("HF_TOKEN_PATH").map { expand($0) } ?? hfHome.appendingPathComponent("token")
            self.token = (try? String(contentsOf: tokenFile, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            if self.token?.isEmpty == true { self.token = nil }
        }
        offline = Self.isTrue(value("HF_HUB_OFFLINE")) || Self.isTrue(value("TRANSFORMERS_OFFLINE"))
        fallbackDirectory = value("RWKV_EMB_FALLBACK_DIR").map(expand)
    }

    public var cache: HubCache { HubCache(root: cacheDirectory) }

    static func isTrue(_ value: String?) -> Bool {
        guard let value else { return false }
        return ["1", "on", "yes", "true"].contains(value.lowercased())
    }
}
