/// One token of an id sequence with its bytes, for showing how a text was split.
public struct TokenPiece: Sendable, Hashable {
    public let id: Int
    /// The token's bytes: empty for EOS, `<|endoftext|>` for id 0. A piece may be a fragment of
    /// a multi-byte character, so the bytes need not be valid UTF-8 on their own.
    public let bytes: [UInt8]

    public init(id: Int, bytes: [UInt8]) {
        self.id = id
        self.bytes = bytes
    }

    /// The bytes as text, or nil when they are not valid UTF-8 on their own.
    public var text: String? {
        UTF8Validation.isValid(bytes) ? String(decoding: bytes, as: UTF8.self) : nil
    }

    /// Whether this is the end-of-sequence token (which has no bytes).
    public var isEOS: Bool { id == SpecialTokens.eos }
}
