import Foundation

/// The tokens of an RWKV "world" vocabulary file, as parsed from its lines
/// `id repr(token) byte_length` (for example `33 ' ' 1` or `129 b'\x80' 1`).
///
/// Parsing follows the reference (`TRIE_TOKENIZER` of rwkv-emb 0.2.6): the token is the Python
/// literal between the line's first and last space, a `str` literal is encoded as UTF-8, and its
/// byte length must equal the last field. Beyond the reference, ids must be unique and in
/// `1...65534`, tokens must be non-empty, and all 256 single bytes must be tokens (so that every
/// byte sequence encodes). Empty lines and a leading UTF-8 byte order mark are skipped.
public struct Vocabulary: Sendable {
    /// `<|endoftext|>`: id 0 decodes to these bytes but is never produced by encoding.
    public static let endOfTextID = SpecialTokens.pad
    public static let endOfTextBytes: [UInt8] = Array("<|endoftext|>".utf8)
    /// The highest id a vocabulary line may use (65535 is EOS).
    public static let maxTokenID = SpecialTokens.eos - 1

    /// The ids of the file's tokens, in file order.
    public let ids: [Int]
    /// All token bytes, concatenated in file order; token `k` is `bytes[boundaries[k]..<boundaries[k + 1]]`.
    let bytes: [UInt8]
    let boundaries: [Int]

    /// The number of tokens in the file (65,529 for `rwkv_vocab_v20230424`).
    public var count: Int { ids.count }

    /// The longest token, in bytes.
    public var maxTokenLength: Int {
        var longest = 0
        for k in 0..<count { longest = max(longest, boundaries[k + 1] - boundaries[k]) }
        return longest
    }

    /// The bytes of the `index`-th token in file order (not the token with id `index`).
    public func tokenBytes(atIndex index: Int) -> ArraySlice<UInt8> {
        bytes[boundaries[index]..<boundaries[index + 1]]
    }

    /// Reads and parses a vocabulary file.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw VocabularyError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        try self.init(parsing: data)
    }

    /// Parses the contents of a vocabulary file.
    public init(parsing contents: some Collection<UInt8>) throws {
        // Offsets are stored as Int32 (the real file is about 1 MB).
        guard contents.count < 1 << 30 else {
            throw VocabularyError.unreadable(path: "vocabulary", reason: "larger than 1 GiB")
        }
        let parsed = try contents.withContiguousStorageIfAvailable { try Self.parse($0) }
            ?? Array(contents).withUnsafeBufferPointer { try Self.parse($0) }
        (ids, bytes, boundaries) = parsed
    }

    private static func parse(
        _ source: UnsafeBufferPointer<UInt8>
    ) throws -> (ids: [Int], bytes: [UInt8], boundaries: [Int]) {
        var ids: [Int] = []
        var bytes: [UInt8] = []
        var boundaries: [Int] = [0]
        // Sized for the world vocabulary; other files just grow.
        ids.reserveCapacity(65_536)
        boundaries.reserveCapacity(65_537)
        bytes.reserveCapacity(source.count / 2)
        // The line that defined each id, for duplicate errors (0 = not yet defined).
        var lineOfID = [Int32](repeating: 0, count: maxTokenID + 1)

        let newline = UInt8(ascii: "\n")
        let space = UInt8(ascii: " ")
        // A UTF-8 byte order mark (editors on Windows add one) is not part of the first id.
        var lineStart = source.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var lineNumber = 0
        while lineStart < source.count {
            lineNumber += 1
            var lineEnd = lineStart
            while lineEnd < source.count, source[lineEnd] != newline { lineEnd += 1 }
            defer { lineStart = lineEnd + 1 }

            // Trailing blanks (and a CR of CRLF files) carry no meaning.
            var end = lineEnd
            while end > lineStart, PythonLiteral.isBlank(source[end - 1]) { end -= 1 }
            if end == lineStart { continue }

            var firstSpace = lineStart
            while firstSpace < end, source[firstSpace] != space { firstSpace += 1 }
            var lastSpace = end - 1
            while lastSpace > firstSpace, source[lastSpace] != space { lastSpace -= 1 }
            guard firstSpace < end, lastSpace > firstSpace else {
                throw VocabularyError.malformedLine(
                    line: lineNumber, reason: "expected 'id token byte_length' separated by spaces")
            }
            guard let id = parseDecimal(source, from: lineStart, to: firstSpace) else {
                throw VocabularyError.malformedLine(line: lineNumber, reason: "the id is not a decimal number")
            }
            guard let declared = parseDecimal(source, from: lastSpace + 1, to: end) else {
                throw VocabularyError.malformedLine(
                    line: lineNumber, reason: "the byte length is not a decimal number")
            }
            guard id >= 1 && id <= maxTokenID else {
                throw VocabularyError.idOutOfRange(line: lineNumber, id: id)
            }
            if lineOfID[id] != 0 {
                throw VocabularyError.duplicateID(line: lineNumber, id: id, firstLine: Int(lineOfID[id]))
            }
            lineOfID[id] = Int32(truncatingIfNeeded: lineNumber)

            let tokenStart = bytes.count
            if let reason = PythonLiteral.decode(source, from: firstSpace + 1, to: lastSpace, into: &bytes) {
                throw VocabularyError.malformedLine(line: lineNumber, reason: reason)
            }
            let actual = bytes.count - tokenStart
            guard actual == declared else {
                throw VocabularyError.byteLengthMismatch(line: lineNumber, declared: declared, actual: actual)
            }
            guard actual > 0 else {
                throw VocabularyError.malformedLine(line: lineNumber, reason: "empty token")
            }
            ids.append(id)
            boundaries.append(bytes.count)
        }
        return (ids, bytes, boundaries)
    }

    /// A non-negative decimal without sign or separators; nil when empty, not digits, or huge.
    private static func parseDecimal(_ source: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int? {
        guard start < end, end - start <= 9 else { return nil }
        var value = 0
        for k in start..<end {
            let digit = Int(source[k]) - Int(UInt8(ascii: "0"))
            guard digit >= 0 && digit <= 9 else { return nil }
            value = value * 10 + digit
        }
        return value
    }
}
