import Foundation
import Testing
@testable import RWKVTokenizer
import RWKVCheckpoint

/// Randomized checks with fixed seeds (reproducible, and small enough for debug builds).
@Suite struct PropertyTests {
    let tokenizer = WorldTokenizer.shared

    @Test func randomBytesRoundTrip() throws {
        var rng = SeededGenerator(seed: 0x5EED_0001)
        for _ in 0..<300 {
            let count = Int.random(in: 0...200, using: &rng)
            // Bias towards UTF-8 lead and continuation bytes so that partial sequences are common.
            let bytes = (0..<count).map { _ -> UInt8 in
                Bool.random(using: &rng) ? UInt8.random(in: 0x80...0xFF, using: &rng) : UInt8.random(in: 0...0xFF, using: &rng)
            }
            let ids = tokenizer.encode(bytes: bytes)
            #expect(try tokenizer.decodeBytes(ids) == bytes)
            #expect(try tokenizer.decode(ids, invalidUTF8: .replace) == String(decoding: bytes, as: UTF8.self))
        }
    }

    @Test func randomUnicodeRoundTrip() throws {
        var rng = SeededGenerator(seed: 0x5EED_0002)
        for _ in 0..<300 {
            let text = randomText(length: Int.random(in: 0...120, using: &rng), using: &rng)
            let ids = tokenizer.encode(text)
            let decoded = try tokenizer.decode(ids, invalidUTF8: .strict)
            // Compare bytes: String equality would accept canonically equivalent texts.
            #expect(Array(decoded.utf8) == Array(text.utf8))
        }
    }

    @Test func greedyMatchesNaiveReference() throws {
        let naive = NaiveTokenizer(tokenizer.vocabulary)
        var rng = SeededGenerator(seed: 0x5EED_0003)
        for _ in 0..<60 {
            var bytes: [UInt8] = []
            let target = Int.random(in: 0...300, using: &rng)
            while bytes.count < target {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0:
                    // A whole vocabulary token, often the start of a longer match.
                    let index = Int.random(in: 0..<tokenizer.vocabulary.count, using: &rng)
                    bytes += tokenizer.vocabulary.tokenBytes(atIndex: index)
                case 1:
                    bytes.append(UInt8.random(in: 0...255, using: &rng))
                default:
                    bytes += randomText(length: Int.random(in: 1...8, using: &rng), using: &rng).utf8
                }
            }
            #expect(tokenizer.encode(bytes: bytes) == naive.encode(bytes))
        }
    }

    @Test func longRunsOfRepeatedTokens() {
        let naive = NaiveTokenizer(tokenizer.vocabulary)
        for text in [String(repeating: " ", count: 1000), String(repeating: "#", count: 333),
                     String(repeating: "-", count: 161), String(repeating: "\n", count: 50),
                     String(repeating: "ab", count: 100), String(repeating: "中", count: 77)] {
            #expect(tokenizer.encode(text) == naive.encode(Array(text.utf8)))
        }
    }
}

/// Small random vocabularies over a few byte values: dense prefix sharing and many collisions
/// when the double array places nodes, checked against the naive matcher.
@Suite struct RandomVocabularyTests {
    @Test func randomVocabulariesMatchNaiveReference() throws {
        var rng = SeededGenerator(seed: 0x5EED_0004)
        let alphabet: [UInt8] = [0x00, 0x20, 0x61, 0x62, 0x63, 0x80, 0xE4, 0xFF]
        for _ in 0..<20 {
            var lines = (0..<256).map { "\($0 + 1) b'\\x\(String(format: "%02x", $0))' 1" }
            var id = 300
            for _ in 0..<Int.random(in: 1...400, using: &rng) {
                let length = Int.random(in: 2...7, using: &rng)
                let token = (0..<length).map { _ in alphabet.randomElement(using: &rng)! }
                lines.append("\(id) b'\(token.map { String(format: "\\x%02x", $0) }.joined())' \(length)")
                id += Int.random(in: 1...3, using: &rng)
            }
            lines.shuffle(using: &rng)  // file order must not matter (except for duplicates)
            let vocabulary = try Vocabulary(parsing: Array(lines.joined(separator: "\n").utf8))
            let tokenizer = try WorldTokenizer(vocabulary: vocabulary)
            let naive = NaiveTokenizer(vocabulary)
            for _ in 0..<20 {
                let input = (0..<Int.random(in: 0...60, using: &rng)).map { _ in
                    Int.random(in: 0..<10, using: &rng) == 0
                        ? UInt8.random(in: 0...255, using: &rng) : alphabet.randomElement(using: &rng)!
                }
                let ids = tokenizer.encode(bytes: input)
                #expect(ids == naive.encode(input))
                #expect(try tokenizer.decodeBytes(ids) == input)
            }
        }
    }

    /// Garbage never crashes the parser: it either parses or throws a `VocabularyError`.
    @Test func garbageLinesThrowOrParse() {
        var rng = SeededGenerator(seed: 0x5EED_0005)
        let pieces = ["1", "65534", "0", " ", "'", "\"", "b", "\\", "x", "u", "U", "N", "\\x4", "\n", "\r",
                      "é", "中", "7", "ff", "{", "}", "\t"]
        for _ in 0..<2000 {
            let line = (0..<Int.random(in: 0...12, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
            do {
                _ = try Vocabulary(parsing: Array(line.utf8))
            } catch {
                #expect(error is VocabularyError)
            }
        }
    }
}

/// Characters from many scripts and the awkward corners: combining marks, ZWJ emoji, NUL, BOM, CRLF.
private func randomText(length: Int, using rng: inout SeededGenerator) -> String {
    let pools: [ClosedRange<UInt32>] = [
        0x20...0x7E,          // ASCII
        0x20...0x7E,
        0x4E00...0x9FFF,      // CJK
        0x3040...0x30FF,      // kana
        0xAC00...0xD7A3,      // Hangul
        0x0400...0x04FF,      // Cyrillic
        0x0600...0x06FF,      // Arabic
        0x0900...0x097F,      // Devanagari
        0x0300...0x036F,      // combining marks
        0x1F300...0x1FAFF,    // emoji
        0x00A0...0x00FF,      // Latin-1
    ]
    let specials = ["\0", "\u{FEFF}", "\r\n", "\n", "\t", "\u{200D}", "👨‍👩‍👧", "e\u{301}", "  "]
    var text = ""
    for _ in 0..<length {
        if Int.random(in: 0..<8, using: &rng) == 0 {
            text += specials.randomElement(using: &rng)!
        } else {
            let pool = pools.randomElement(using: &rng)!
            if let scalar = Unicode.Scalar(UInt32.random(in: pool, using: &rng)) {
                text.unicodeScalars.append(scalar)
            }
        }
    }
    return text
}

/// The obvious O(n * maxTokenLength) greedy longest match over a dictionary.
private struct NaiveTokenizer {
    let ids: [ArraySlice<UInt8>: Int]
    let maxLength: Int

    init(_ vocabulary: Vocabulary) {
        var ids: [ArraySlice<UInt8>: Int] = [:]
        for index in 0..<vocabulary.count {
            ids[ArraySlice(vocabulary.tokenBytes(atIndex: index))] = vocabulary.ids[index]
        }
        self.ids = ids
        maxLength = vocabulary.maxTokenLength
    }

    func encode(_ bytes: [UInt8]) -> [Int] {
        var result: [Int] = []
        var position = 0
        while position < bytes.count {
            var length = min(maxLength, bytes.count - position)
            while length > 0 {
                if let id = ids[bytes[position..<position + length]] {
                    result.append(id)
                    break
                }
                length -= 1
            }
            precondition(length > 0, "a single byte has no token")
            position += length
        }
        return result
    }
}
