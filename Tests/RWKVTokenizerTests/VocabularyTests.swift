import Foundation
import Testing
@testable import RWKVTokenizer
import RWKVTestSupport

/// Parses one vocabulary line and returns its token bytes.
private func token(_ line: String) throws -> [UInt8] {
    let vocabulary = try Vocabulary(parsing: Array(line.utf8))
    try #require(vocabulary.count == 1)
    return Array(vocabulary.tokenBytes(atIndex: 0))
}

private func parseError(_ text: String) -> VocabularyError? { parseErrorBytes(Array(text.utf8)) }

private func parseErrorBytes(_ bytes: [UInt8]) -> VocabularyError? {
    do {
        _ = try Vocabulary(parsing: bytes)
        return nil
    } catch {
        return error as? VocabularyError
    }
}

private extension VocabularyError {
    func isMalformed(line expected: Int) -> Bool {
        if case .malformedLine(let line, _) = self { return line == expected }
        return false
    }
}

@Suite struct VocabularyTests {
    @Test func bundledVocabulary() throws {
        let vocabulary = try Vocabulary(contentsOf: Fixtures.vocabulary)
        #expect(vocabulary.count == 65_529)
        #expect(vocabulary.ids.first == 1)
        #expect(vocabulary.ids.last == 65_529)
        #expect(vocabulary.maxTokenLength == 128)
        // Line 33 is the space, line 129 the first bytes literal.
        #expect(Array(vocabulary.tokenBytes(atIndex: 32)) == [0x20])
        #expect(Array(vocabulary.tokenBytes(atIndex: 128)) == [0x80])
    }

    @Test func plainAndQuotedTokens() throws {
        #expect(try token("1 'a' 1") == Array("a".utf8))
        #expect(try token(#"1 "'" 1"#) == [0x27])
        #expect(try token(#"1 '"' 1"#) == [0x22])
        #expect(try token(#"1 ' a b ' 5"#) == Array(" a b ".utf8))
        #expect(try token("1 '中文' 6") == Array("中文".utf8))
        #expect(try token("1 u'x' 1") == [0x78])
    }

    @Test func escapes() throws {
        #expect(try token(#"1 '\n\t\r' 3"#) == [0x0A, 0x09, 0x0D])
        #expect(try token(#"1 '\\' 1"#) == [0x5C])
        #expect(try token(#"1 '\'' 1"#) == [0x27])
        #expect(try token(#"1 "\"" 1"#) == [0x22])
        #expect(try token(#"1 '\a\b\f\v' 4"#) == [0x07, 0x08, 0x0C, 0x0B])
        #expect(try token(#"1 '\x00' 1"#) == [0x00])
        #expect(try token(#"1 '\0' 1"#) == [0x00])
        #expect(try token(#"1 '\101' 1"#) == [0x41])
        // In a str literal \xNN is the code point U+00NN, encoded as UTF-8.
        #expect(try token(#"1 '\x80' 2"#) == [0xC2, 0x80])
        #expect(try token(#"1 '\xe9' 2"#) == Array("é".utf8))
        #expect(try token(#"1 '\u4e2d' 3"#) == Array("中".utf8))
        #expect(try token(#"1 '\u2028' 3"#) == [0xE2, 0x80, 0xA8])
        #expect(try token(#"1 '\U0001F600' 4"#) == Array("😀".utf8))
        // Unknown escapes keep their backslash, as in Python.
        #expect(try token(#"1 '\q' 2"#) == [0x5C, 0x71])
    }

    @Test func bytesLiterals() throws {
        #expect(try token(#"1 b'\x80' 1"#) == [0x80])
        #expect(try token(#"1 b'\xe4\xb8' 2"#) == [0xE4, 0xB8])
        #expect(try token(#"1 B"a\n" 2"#) == [0x61, 0x0A])
        #expect(try token(#"1 b'\377' 1"#) == [0xFF])
        // \u is not an escape in bytes literals.
        #expect(try token(#"1 b'\u00e9' 6"#) == Array(#"\u00e9"#.utf8))
    }

    @Test func lineEndingsAndBlankLines() throws {
        let vocabulary = try Vocabulary(parsing: Array("1 'a' 1\r\n2 'b' 1\r\n\n3 'c' 1".utf8))
        #expect(vocabulary.ids == [1, 2, 3])
        #expect(Array(vocabulary.tokenBytes(atIndex: 2)) == [0x63])
        let withBOM = try Vocabulary(parsing: [0xEF, 0xBB, 0xBF] + Array("1 'a' 1\n".utf8))
        #expect(withBOM.ids == [1])
    }

    @Test func badLinesNameTheLine() throws {
        #expect(parseError("1 'a' 1\n2 'bb' 1\n") == .byteLengthMismatch(line: 2, declared: 1, actual: 2))
        #expect(parseError("1 'a' 1\n2 '\\x80' 1\n") == .byteLengthMismatch(line: 2, declared: 1, actual: 2))
        #expect(parseError("1 'a' 1\n1 'b' 1\n") == .duplicateID(line: 2, id: 1, firstLine: 1))
        #expect(parseError("0 'a' 1\n") == .idOutOfRange(line: 1, id: 0))
        #expect(parseError("65535 'a' 1\n") == .idOutOfRange(line: 1, id: 65535))

        let malformed: [String] = [
            "x 'a' 1",              // id not a number
            "1 'a' one",            // length not a number
            "1",                    // no fields
            "1 'a'",                // no length
            "1 'abc 3",             // unterminated
            "1 abc 3",              // not a literal
            "1 r'a' 1",             // raw strings unsupported
            "1 'a'b 1",             // text after the literal
            #"1 '\xZZ' 1"#,         // bad hex
            #"1 '\u12' 1"#,         // short \u
            #"1 '\ud800' 3"#,       // surrogate
            #"1 '\U00110000' 4"#,   // beyond Unicode
            #"1 '\N{BULLET}' 3"#,   // named escapes unsupported
            "1 b'é' 2",             // non-ASCII in bytes literal
            "1 '' 0",               // empty token
        ]
        for text in malformed {
            let error = parseError("1 'a' 1\n2 'b' 1\n" + text.replacingOccurrences(of: "1 ", with: "3 ", options: .anchored))
            guard case .malformedLine(let line, _)? = error else {
                Issue.record("expected a malformed-line error for \(text.debugDescription), got \(String(describing: error))")
                continue
            }
            #expect(line == 3, "\(text.debugDescription)")
            #expect(error?.description.contains("line 3") == true)
        }
    }

    @Test func invalidUTF8InStrLiteralIsRejected() {
        var bytes = Array("1 '".utf8)
        bytes += [0xFF]
        bytes += Array("' 1\n".utf8)
        #expect(parseErrorBytes(bytes)?.isMalformed(line: 1) == true)
    }

    @Test func unreadableFile() {
        let url = URL(fileURLWithPath: "/nonexistent/vocab.txt")
        #expect(throws: VocabularyError.self) { try Vocabulary(contentsOf: url) }
        let error = try? #require(throws: VocabularyError.self) { try Vocabulary(contentsOf: url) }
        #expect(error?.description.contains("/nonexistent/vocab.txt") == true)
    }
}
