import Crypto
import Foundation

/// A document to add: its id, text and optional metadata (a JSON object as text).
public struct Document: Sendable, Equatable {
    public var id: String
    public var text: String
    public var metadata: String?

    /// Without an id, a stable one is derived from the content: `sha256:` + 16 hex digits of the text's hash.
    public init(id: String? = nil, text: String, metadata: String? = nil) {
        self.id = id ?? Self.contentID(text)
        self.text = text
        self.metadata = metadata
    }

    public static func contentID(_ text: String) -> String {
        "sha256:" + SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined().prefix(16)
    }

    /// SHA-256 over the text's length (u64 LE), the text and the metadata: what decides whether re-adding
    /// changes anything (the same value version 1 stored).
    var contentHash: [UInt8] {
        var h = SHA256()
        withUnsafeBytes(of: UInt64(text.utf8.count).littleEndian) { h.update(bufferPointer: $0) }
        h.update(data: Array(text.utf8))
        h.update(data: Array((metadata ?? "").utf8))
        return Array(h.finalize())
    }
}

/// A stored document's description (without its text).
public struct DocumentSummary: Sendable, Equatable {
    public var id: String
    /// Tokens of all its passages' state templates and embedding inputs.
    public var stateTokens: Int
    public var embeddingTokens: Int
    public var textBytes: Int
    /// Every passage has a cached state.
    public var hasState: Bool
    public var passages: Int
    public var metadata: String?
}

/// One passage of a stored document: `text.utf8[start..<end]` of the document is `text`.
public struct PassageSummary: Sendable, Equatable {
    /// The passage's id (`passages.id`, never reused).
    public var id: Int64
    public var document: String
    public var ordinal: Int
    public var start: Int
    public var end: Int
    public var embeddingTokens: Int
    public var stateTokens: Int
    public var hasState: Bool
}
