import Foundation
import RWKVSupport

/// A vocabulary file could not be read or is malformed.
///
/// Every content error names the 1-based line, so that a hand-edited vocabulary can be fixed.
public enum VocabularyError: Error, Equatable, Sendable {
    /// The file could not be read at all.
    case unreadable(path: String, reason: String)
    /// A line is not `id literal byte_length`, or its literal is not a Python str/bytes literal.
    case malformedLine(line: Int, reason: String)
    /// The literal's UTF-8 (or raw bytes) length differs from the declared length.
    case byteLengthMismatch(line: Int, declared: Int, actual: Int)
    /// The id is outside `1...65534` (0 is `<|endoftext|>`, 65535 is EOS; both are implicit).
    case idOutOfRange(line: Int, id: Int)
    /// Two lines give the same id.
    case duplicateID(line: Int, id: Int, firstLine: Int)
    /// A single byte has no token, so some inputs could not be encoded.
    case missingByteToken(byte: UInt8)
}

extension VocabularyError: CustomStringConvertible, LocalizedError {
    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "cannot read vocabulary file '\(path)': \(reason)"
        case let .malformedLine(line, reason):
            return "vocabulary line \(line): \(reason)"
        case let .byteLengthMismatch(line, declared, actual):
            return "vocabulary line \(line): the token has \(actual) bytes but the line declares \(declared)"
        case let .idOutOfRange(line, id):
            return "vocabulary line \(line): id \(id) is out of range (ids are 1...65534; "
                + "0 is <|endoftext|> and 65535 is EOS)"
        case let .duplicateID(line, id, firstLine):
            return "vocabulary line \(line): id \(id) is already defined on line \(firstLine)"
        case let .missingByteToken(byte):
            return "the vocabulary has no token for the single byte 0x\(hexByte(byte)), "
                + "so not every input could be encoded"
        }
    }

    public var errorDescription: String? { description }
}

/// Token ids that cannot be decoded, or decoded bytes that are not valid UTF-8.
public enum TokenizerError: Error, Equatable, Sendable {
    /// `id` (at `index` in the input) is neither a vocabulary token, `<|endoftext|>` (0) nor EOS.
    case unknownTokenID(id: Int, index: Int)
    /// Strict decoding met bytes that are not UTF-8, starting at this offset of the decoded bytes.
    case invalidUTF8(byteOffset: Int)
}

extension TokenizerError: CustomStringConvertible, LocalizedError {
    public var description: String {
        switch self {
        case let .unknownTokenID(id, index):
            return "unknown token id \(id) at position \(index) (not in the vocabulary)"
        case let .invalidUTF8(offset):
            return "the decoded bytes are not valid UTF-8 (first bad byte at offset \(offset)); "
                + "decode with replacement to get U+FFFD instead"
        }
    }

    public var errorDescription: String? { description }
}
