import Foundation

/// The RWKV "world" tokenizer (`rwkv_vocab_v20230424`): greedy longest byte match, producing the
/// same ids as the reference `TRIE_TOKENIZER` of rwkv-emb 0.2.6.
///
/// Encoding never fails: every single byte is a token, so any byte sequence (valid UTF-8 or not)
/// encodes. Decoding maps ids back to bytes:
/// - id 0 decodes to `<|endoftext|>` (as in the reference), but encoding never produces it;
/// - EOS (65535) is not a vocabulary token and decodes to nothing (the reference raises);
/// - any other id without a token throws ``TokenizerError/unknownTokenID(id:index:)``.
///
/// Immutable after `init`, so one instance can be shared by any number of threads.
public final class WorldTokenizer: Sendable {
    /// How ``decode(_:invalidUTF8:)`` treats bytes that are not valid UTF-8.
    public enum InvalidUTF8Handling: Sendable {
        /// Throw ``TokenizerError/invalidUTF8(byteOffset:)`` (the reference's default).
        case strict
        /// Replace each ill-formed sequence with U+FFFD.
        case replace
    }

    /// The tokenizer for the bundled vocabulary, loaded on first use.
    public static let shared: WorldTokenizer = {
        do {
            return try WorldTokenizer()
        } catch {
            // The vocabulary ships inside this module: failing here is a packaging bug.
            fatalError("RWKVTokenizer: cannot load the bundled vocabulary: \(error)")
        }
    }()

    /// The bundled `rwkv_vocab_v20230424.txt`: the resource bundle next to the executable, else
    /// `Bundle.module`. (On Linux `Bundle.module` aborts the process when its bundle is gone, e.g. for a
    /// binary copied elsewhere without its `.resources` folder, so it is asked only after the paths that
    /// can be checked; a vocabulary kept elsewhere is passed to `init(vocabularyURL:)`.)
    public static var bundledVocabularyURL: URL? {
        let fileName = "rwkv_vocab_v20230424.txt"
        let fileManager = FileManager.default
        let candidates = [
            Bundle.main.bundleURL.appendingPathComponent("swift-rwkv-emb_RWKVTokenizer.resources/\(fileName)"),
            Bundle.main.bundleURL.appendingPathComponent("swift-rwkv-emb_RWKVTokenizer.bundle/Contents/Resources/\(fileName)"),
        ]
        if let found = candidates.first(where: { fileManager.fileExists(atPath: $0.path) }) { return found }
        return Bundle.module.url(forResource: "rwkv_vocab_v20230424", withExtension: "txt")
    }

    /// The number of ids a model's embedding table needs: the highest id (EOS) plus one, 65536.
    public let vocabularySize: Int
    /// The tokens of the vocabulary file.
    public let vocabulary: Vocabulary

    private let trie: TokenTrie
    /// Decoding: id `i` is `decodeArena[start..<start + length]` of `decodeSpans[i]` (length -1:
    /// no such id). The arena is the vocabulary's bytes followed by `<|endoftext|>` (for id 0).
    private let decodeSpans: [Span]
    private let decodeArena: [UInt8]

    private struct Span: Sendable {
        var start: Int32
        var length: Int32
    }

    /// Loads the bundled vocabulary.
    public convenience init() throws {
        guard let url = Self.bundledVocabularyURL else {
            throw VocabularyError.unreadable(
                path: "rwkv_vocab_v20230424.txt", reason: "the RWKVTokenizer resource bundle has no vocabulary")
        }
        try self.init(vocabularyURL: url)
    }

    /// Loads a vocabulary file in the `rwkv_vocab_v20230424.txt` format.
    public convenience init(vocabularyURL: URL) throws {
        try self.init(vocabulary: Vocabulary(contentsOf: vocabularyURL))
    }

    /// Builds the tokenizer for parsed vocabulary tokens; throws
    /// ``VocabularyError/missingByteToken(byte:)`` when a single byte has no token.
    public init(vocabulary: Vocabulary) throws {
        let trie = TokenTrie(vocabulary: vocabulary)
        if let missing = trie.missingSingleBytes.first {
            throw VocabularyError.missingByteToken(byte: missing)
        }
        let size = SpecialTokens.eos + 1
        var spans = [Span](repeating: Span(start: 0, length: -1), count: size)
        for index in 0..<vocabulary.count {
            let start = vocabulary.boundaries[index]
            spans[vocabulary.ids[index]] = Span(
                start: Int32(start), length: Int32(vocabulary.boundaries[index + 1] - start))
        }
        spans[Vocabulary.endOfTextID] = Span(
            start: Int32(vocabulary.bytes.count), length: Int32(Vocabulary.endOfTextBytes.count))
        spans[SpecialTokens.eos] = Span(start: 0, length: 0)
        self.vocabulary = vocabulary
        self.vocabularySize = size
        self.trie = trie
        self.decodeSpans = spans
        self.decodeArena = vocabulary.bytes + Vocabulary.endOfTextBytes
    }

    // MARK: Encoding

    /// The token ids of `text`'s UTF-8 bytes, optionally followed by EOS.
    public func encode(_ text: String, addEOS: Bool = false) -> [Int] {
        var text = text
        return text.withUTF8 { encode(bytes: $0, addEOS: addEOS) }
    }

    /// The token ids of arbitrary bytes (they need not be valid UTF-8), optionally followed by EOS.
    public func encode(bytes: some Sequence<UInt8>, addEOS: Bool = false) -> [Int] {
        bytes.withContiguousStorageIfAvailable { encode(bytes: $0, addEOS: addEOS) }
            ?? Array(bytes).withUnsafeBufferPointer { encode(bytes: $0, addEOS: addEOS) }
    }

    /// The token ids of the bytes in `buffer`, optionally followed by EOS (the fast path the other
    /// `encode` methods funnel into).
    public func encode(bytes buffer: UnsafeBufferPointer<UInt8>, addEOS: Bool = false) -> [Int] {
        var ids: [Int] = []
        // Typical text averages 3-4 bytes per token; growing past this is amortized anyway.
        ids.reserveCapacity(buffer.count / 3 + 2)
        trie.encode(buffer, into: &ids)
        if addEOS { ids.append(SpecialTokens.eos) }
        return ids
    }

    // MARK: Decoding

    /// The bytes of one id: empty for EOS, `<|endoftext|>` for 0, nil when the id has no token.
    public func tokenBytes(for id: Int) -> [UInt8]? {
        guard let span = span(of: id) else { return nil }
        return Array(decodeArena[Int(span.start)..<Int(span.start) + Int(span.length)])
    }

    /// Whether `id` decodes (a vocabulary token, `<|endoftext|>` or EOS).
    public func isKnown(_ id: Int) -> Bool { span(of: id) != nil }

    private func span(of id: Int) -> Span? {
        guard id >= 0, id < decodeSpans.count else { return nil }
        let span = decodeSpans[id]
        return span.length >= 0 ? span : nil
    }

    /// The concatenated bytes of `ids` (EOS contributes nothing).
    public func decodeBytes(_ ids: some Sequence<Int>) throws -> [UInt8] {
        if let bytes = try ids.withContiguousStorageIfAvailable({ try decodeBytes(buffer: $0) }) {
            return bytes
        }
        return try Array(ids).withUnsafeBufferPointer { try decodeBytes(buffer: $0) }
    }

    /// Two passes: validate the ids and sum their lengths, then copy into an exactly sized array.
    private func decodeBytes(buffer ids: UnsafeBufferPointer<Int>) throws -> [UInt8] {
        try decodeSpans.withUnsafeBufferPointer { spans in
            var total = 0
            for index in ids.indices {
                let id = ids[index]
                guard id >= 0, id < spans.count, spans[id].length >= 0 else {
                    throw TokenizerError.unknownTokenID(id: id, index: index)
                }
                total &+= Int(spans[id].length)
            }
            return decodeArena.withUnsafeBufferPointer { arena in
                [UInt8](unsafeUninitializedCapacity: total) { output, initialized in
                    var offset = 0
                    for id in ids {
                        let span = spans[id]
                        let length = Int(span.length)
                        if length > 0 {
                            (output.baseAddress! + offset)
                                .update(from: arena.baseAddress! + Int(span.start), count: length)
                            offset &+= length
                        }
                    }
                    initialized = offset
                }
            }
        }
    }

    /// The text of `ids`. Token boundaries may split characters, so the concatenated bytes are
    /// validated as a whole; `invalidUTF8` says what to do when they are not UTF-8.
    public func decode(_ ids: some Sequence<Int>, invalidUTF8: InvalidUTF8Handling = .strict) throws -> String {
        let bytes = try decodeBytes(ids)
        if invalidUTF8 == .strict, let offset = UTF8Validation.firstInvalidOffset(bytes) {
            throw TokenizerError.invalidUTF8(byteOffset: offset)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Each id with its bytes, for displaying a tokenization (EOS gets an empty piece).
    public func pieces(_ ids: some Sequence<Int>) throws -> [TokenPiece] {
        var pieces: [TokenPiece] = []
        for (index, id) in ids.enumerated() {
            guard let bytes = tokenBytes(for: id) else {
                throw TokenizerError.unknownTokenID(id: id, index: index)
            }
            pieces.append(TokenPiece(id: id, bytes: bytes))
        }
        return pieces
    }
}
