import Foundation
import Testing
import RWKVCheckpoint
import RWKVRetrieval
import RWKVTokenizer

/// Passage splitting with the real world tokenizer: offsets, budgets, overlap, headings, UTF-8.
@Suite struct PassageSplitterTests {
    let tokenizer = WorldTokenizer.shared

    func splitter(_ max: Int, _ overlap: Int = 0, split: Bool = true) throws -> PassageSplitter {
        try PassageSplitter(tokenizer: tokenizer, options: PassageOptions(maxTokens: max, overlapTokens: overlap, split: split))
    }

    func passages(_ text: String, _ spans: [PassageSpan]) -> [String] {
        let bytes = Array(text.utf8)
        return spans.map { String(decoding: bytes[$0.start..<$0.end], as: UTF8.self) }
    }

    /// The invariants every split must hold; returns the passage texts.
    @discardableResult
    func checkInvariants(_ text: String, _ s: PassageSplitter, sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
        let bytes = Array(text.utf8)
        let spans = s.split(text)
        #expect(spans.isEmpty == bytes.isEmpty, sourceLocation: sourceLocation)
        guard let first = spans.first, let last = spans.last else { return [] }
        #expect(first.start == 0, sourceLocation: sourceLocation)
        #expect(last.end == bytes.count, sourceLocation: sourceLocation)
        for (i, span) in spans.enumerated() {
            #expect(span.ordinal == i, sourceLocation: sourceLocation)
            #expect(span.start < span.end, sourceLocation: sourceLocation)
            // Never inside a UTF-8 character: both ends are character boundaries, the slice is valid UTF-8.
            #expect(span.start == bytes.count || bytes[span.start] & 0xC0 != 0x80, sourceLocation: sourceLocation)
            #expect(span.end == bytes.count || bytes[span.end] & 0xC0 != 0x80, sourceLocation: sourceLocation)
            #expect(String(validating: bytes[span.start..<span.end], as: UTF8.self) != nil, sourceLocation: sourceLocation)
            // The budget holds for the passage re-tokenized on its own.
            let count = tokenizer.encode(bytes: bytes[span.start..<span.end]).count
            #expect(count <= s.options.maxTokens || !s.options.split, "passage \(i) has \(count) tokens", sourceLocation: sourceLocation)
            if i > 0 {
                // Contiguous or overlapping, always moving forward: every byte is in some passage.
                #expect(span.start > spans[i - 1].start, sourceLocation: sourceLocation)
                #expect(span.start <= spans[i - 1].end, sourceLocation: sourceLocation)
                #expect(span.end > spans[i - 1].end, sourceLocation: sourceLocation)
            }
        }
        return passages(text, spans)
    }

    @Test func shortTextIsOnePassageAndEmptyTextNone() throws {
        let s = try splitter(64, 8)
        #expect(s.split("") == [])
        let text = "A short note about cats."
        #expect(s.split(text) == [PassageSpan(ordinal: 0, start: 0, end: text.utf8.count)])
        #expect(s.split("   ") == [PassageSpan(ordinal: 0, start: 0, end: 3)])
    }

    @Test func noSplitKeepsOnePassage() throws {
        let text = String(repeating: "word after word after word. ", count: 500)
        let spans = try splitter(16, 0, split: false).split(text)
        #expect(spans == [PassageSpan(ordinal: 0, start: 0, end: text.utf8.count)])
    }

    @Test func invalidOptionsAreRefused() {
        for (max, overlap) in [(15, 0), (0, 0), (64, 64), (64, 100), (64, -1)] {
            #expect(throws: RetrievalError.self) { _ = try splitter(max, overlap) }
        }
        do {
            _ = try splitter(64, 64)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("overlap"))
        }
    }

    @Test func cutsAtParagraphsFirst() throws {
        // Paragraphs of ~10 tokens, so one ends within the last 20% (12 tokens) of every 64-token budget.
        let paragraph = "The river runs past the old mill"
        let text = (0..<30).map { "\(paragraph) number \($0)." }.joined(separator: "\n\n")
        let texts = checkInvariants(text, try splitter(64))
        #expect(texts.count > 3)
        for t in texts.dropLast() { #expect(t.hasSuffix("\n\n"), "\(t.debugDescription)") }
        for t in texts.dropFirst() { #expect(t.hasPrefix("The river"), "\(t.debugDescription)") }
    }

    @Test func cutsAtSentencesWithoutParagraphs() throws {
        let sentence = "Cats sleep in warm places"
        let text = (0..<40).map { "\(sentence) \($0)." }.joined(separator: " ")
        let texts = checkInvariants(text, try splitter(50))
        #expect(texts.count > 5)
        for t in texts.dropLast() { #expect(t.trimmingCharacters(in: .whitespaces).hasSuffix("."), "\(t.debugDescription)") }
    }

    @Test func cutsAtLinesWithoutSentences() throws {
        let text = (0..<60).map { "item \($0) apples pears" }.joined(separator: "\n")
        let texts = checkInvariants(text, try splitter(40))
        #expect(texts.count > 5)
        for t in texts.dropLast() { #expect(t.hasSuffix("\n"), "\(t.debugDescription)") }
    }

    @Test func overlapRepeatsTheEndOfThePreviousPassage() throws {
        let words = (0..<600).map { "w\($0 * 7919 % 1000)" }.joined(separator: " ")
        let s = try splitter(64, 16)
        let spans = s.split(words)
        checkInvariants(words, s)
        #expect(spans.count > 5)
        let bytes = Array(words.utf8)
        for (a, b) in zip(spans, spans.dropFirst()) {
            #expect(b.start < a.end)
            let overlap = tokenizer.encode(bytes: bytes[b.start..<a.end]).count
            #expect((12...20).contains(overlap), "overlap \(overlap) tokens")
        }
        // Without overlap the passages tile the text exactly.
        let tiles = try splitter(64, 0).split(words)
        for (a, b) in zip(tiles, tiles.dropFirst()) { #expect(a.end == b.start) }
    }

    @Test func headingsStartPassages() throws {
        let text = """
        Intro line before any heading.

        # Cats
        Cats purr.

        ## Kittens
        Kittens play.
        ```
        # not a heading inside code
        ```
        #hashtag is not a heading
        ### Dogs
        Dogs bark.
        """
        let texts = checkInvariants(text, try splitter(512))
        #expect(texts.count == 4)
        #expect(texts[0] == "Intro line before any heading.\n\n")
        #expect(texts[1].hasPrefix("# Cats\n"))
        #expect(texts[2].hasPrefix("## Kittens\n") && texts[2].contains("# not a heading") && texts[2].contains("#hashtag"))
        #expect(texts[3] == "### Dogs\nDogs bark.")
        // A heading at the very start does not make an empty passage.
        #expect(checkInvariants("# Title\nBody.", try splitter(512)) == ["# Title\nBody."])
        // Blank text before a heading stays with it.
        #expect(checkInvariants("\n\n# Title\nBody.", try splitter(512)).count == 1)
    }

    @Test func cjkAndEmojiAreNeverSplit() throws {
        let cjk = String(repeating: "東京は日本の首都であり、世界最大の都市の一つです。", count: 40)
        let emoji = String(repeating: "👩‍👩‍👧‍👦🏳️‍🌈🇯🇵 ok ", count: 80)
        let mixed = String(repeating: "café naïve 中文字 😀", count: 100)
        for text in [cjk, emoji, mixed] {
            for max in [16, 17, 33, 64] {
                let texts = checkInvariants(text, try splitter(max, max / 4))
                #expect(texts.count > 1)
            }
        }
        // CJK sentences end at 。 without a space after it (short ones: one ends in every window).
        let texts = checkInvariants(String(repeating: "東京は首都です。", count: 40), try splitter(64))
        for t in texts.dropLast() { #expect(t.hasSuffix("。"), "\(t.debugDescription)") }
    }

    @Test func randomTextsHoldEveryInvariant() throws {
        var rng = SeededGenerator(seed: 10)
        let pieces = ["the", "cat", "naïve", "中", "文", "😀", "👩‍👧", " ", " ", " ", "\n", "\n\n", ". ", "! ", "# ", "\n# H\n",
                      "```", "\u{301}", "é", "\t", "a", "b", "1234", "—", "ß", "한국어", "カタカナ", "\r\n"]
        for round in 0..<300 {
            let length = Int(rng.next() % 400)
            let text = (0..<length).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
            let max = 16 + Int(rng.next() % 60)
            let overlap = Int(rng.next() % UInt64(max))
            let s = try splitter(max, round % 3 == 0 ? 0 : overlap)
            checkInvariants(text, s)
        }
    }

    @Test func optionsAreCodable() throws {
        let o = PassageOptions(maxTokens: 256, overlapTokens: 32, split: false)
        let back = try JSONDecoder().decode(PassageOptions.self, from: JSONEncoder().encode(o))
        #expect(back == o)
        #expect(PassageOptions() == PassageOptions(maxTokens: 512, overlapTokens: 64, split: true))
    }
}
