import Foundation
import Testing
@testable import RWKVTokenizer

@Suite struct TokenizerBehaviourTests {
    let tokenizer = WorldTokenizer.shared

    @Test func sizes() {
        #expect(tokenizer.vocabularySize == 65_536)
        #expect(tokenizer.vocabulary.count == 65_529)
    }

    @Test func emptyInput() throws {
        #expect(tokenizer.encode("") == [])
        #expect(tokenizer.encode("", addEOS: true) == [SpecialTokens.eos])
        #expect(try tokenizer.decode([]) == "")
    }

    @Test func eosIsAppendedAndDecodesToNothing() throws {
        let ids = tokenizer.encode("Hello", addEOS: true)
        #expect(ids.last == SpecialTokens.eos)
        #expect(Array(ids.dropLast()) == tokenizer.encode("Hello"))
        #expect(try tokenizer.decode(ids) == "Hello")
        #expect(try tokenizer.decodeBytes([SpecialTokens.eos]) == [])
        #expect(try tokenizer.pieces([SpecialTokens.eos]).first?.isEOS == true)
    }

    @Test func endOfTextDecodesButIsNeverEncoded() throws {
        #expect(try tokenizer.decode([0]) == "<|endoftext|>")
        #expect(!tokenizer.encode("<|endoftext|>").contains(0))
        #expect(try tokenizer.decode(tokenizer.encode("<|endoftext|>")) == "<|endoftext|>")
    }

    @Test func unknownIDsAreRejected() {
        for id in [-1, 65_530, 65_534, 65_536, 1 << 40] {
            #expect(throws: TokenizerError.unknownTokenID(id: id, index: 1)) {
                try tokenizer.decodeBytes([33, id, 34])
            }
            #expect(throws: TokenizerError.unknownTokenID(id: id, index: 0)) { try tokenizer.pieces([id]) }
            #expect(!tokenizer.isKnown(id))
            #expect(tokenizer.tokenBytes(for: id) == nil)
        }
        #expect(TokenizerError.unknownTokenID(id: 65_530, index: 2).description.contains("65530"))
    }

    @Test func strictAndReplacementDecoding() throws {
        // 129 is b'\x80': a lone continuation byte.
        let ids = [tokenizer.encode("a")[0], 129, tokenizer.encode("b")[0]]
        #expect(throws: TokenizerError.invalidUTF8(byteOffset: 1)) {
            try tokenizer.decode(ids, invalidUTF8: .strict)
        }
        #expect(try tokenizer.decode(ids, invalidUTF8: .replace) == "a\u{FFFD}b")
        #expect(try tokenizer.decodeBytes(ids) == [0x61, 0x80, 0x62])

        // A character split across tokens is only valid as a whole.
        let split = tokenizer.encode(bytes: [0xE4]) + tokenizer.encode(bytes: [0xB8, 0xAD])
        #expect(try tokenizer.decode(split, invalidUTF8: .strict) == "中")
        #expect(try tokenizer.decode(Array(split.prefix(1)), invalidUTF8: .replace) == "\u{FFFD}")
    }

    @Test func pieces() throws {
        let pieces = try tokenizer.pieces(tokenizer.encode("Hello world", addEOS: true))
        #expect(pieces.compactMap(\.text).joined() == "Hello world")
        #expect(pieces.last?.bytes == [])
        #expect(try tokenizer.pieces([129]).first?.text == nil)
        #expect(try tokenizer.pieces([129]).first?.bytes == [0x80])
    }

    @Test func everySingleByteIsAToken() {
        for byte in 0...255 {
            let ids = tokenizer.encode(bytes: [UInt8(byte)])
            #expect(ids.count == 1)
            #expect(tokenizer.tokenBytes(for: ids[0]) == [UInt8(byte)])
        }
    }

    @Test func encodeEntryPointsAgree() {
        let text = "Grüße, 世界! 🦆\r\n\0end"
        let ids = tokenizer.encode(text)
        #expect(tokenizer.encode(bytes: Array(text.utf8)) == ids)
        #expect(tokenizer.encode(bytes: text.utf8) == ids)
        #expect(tokenizer.encode(bytes: AnySequence(text.utf8)) == ids)  // not contiguous
        let bridged = NSString(string: text) as String  // may be a non-native string
        #expect(tokenizer.encode(bridged) == ids)
    }

    @Test func concurrentUseOfOneInstance() async {
        let texts = (0..<8).map { "text \($0): 分词 🦆 " + String(repeating: "abc ", count: $0 * 10) }
        let tokenizer = self.tokenizer
        let expected = texts.map { tokenizer.encode($0) }
        let results = await withTaskGroup(of: (Int, [Int]).self) { group in
            for (index, text) in texts.enumerated() {
                group.addTask { (index, tokenizer.encode(text)) }
            }
            var results = [[Int]](repeating: [], count: texts.count)
            for await (index, ids) in group { results[index] = ids }
            return results
        }
        #expect(results == expected)
    }

    @Test func vocabularyMustCoverEveryByte() throws {
        let vocabulary = try Vocabulary(parsing: Array("1 'a' 1\n".utf8))
        #expect(throws: VocabularyError.missingByteToken(byte: 0)) { try WorldTokenizer(vocabulary: vocabulary) }
    }

    /// A small vocabulary: the 256 bytes (ids 1...256) plus `extra`.
    private func smallTokenizer(_ extra: String) throws -> WorldTokenizer {
        var text = ""
        for byte in 0..<256 {
            text += "\(byte + 1) b'\\x\(String(byte, radix: 16).leftPadded())' 1\n"
        }
        return try WorldTokenizer(vocabulary: Vocabulary(parsing: Array((text + extra).utf8)))
    }

    @Test func longestMatchWins() throws {
        let tokenizer = try smallTokenizer("300 'ab' 2\n301 'abc' 3\n302 'abcd' 4\n303 'bcde' 4\n")
        let a = 1 + 0x61, c = 1 + 0x63, d = 1 + 0x64, e = 1 + 0x65
        #expect(tokenizer.encode("abcd") == [302])
        #expect(tokenizer.encode("abce") == [301, e])
        #expect(tokenizer.encode("abcde") == [302, e])       // greedy, not optimal
        #expect(tokenizer.encode("aabc") == [a, 301])
        #expect(tokenizer.encode("ab") == [300])
        #expect(tokenizer.encode("acd") == [a, c, d])
    }

    @Test func laterDuplicateTokenWinsLikeTheReference() throws {
        let tokenizer = try smallTokenizer("300 'xy' 2\n301 'xy' 2\n")
        #expect(tokenizer.encode("xy") == [301])
        #expect(try tokenizer.decode([300, 301]) == "xyxy")
    }
}

private extension String {
    func leftPadded() -> String { count == 1 ? "0" + self : self }
}
