import RWKVTokenizer

/// How documents are cut into passages before embedding.
public struct PassageOptions: Sendable, Equatable, Codable {
    /// Tokens of the passage text at most (the embedding input is the passage + EOS).
    public var maxTokens: Int
    /// Tokens the next passage repeats from the end of the previous one (within a section; at most
    /// maxTokens - 4, so that each passage brings new text).
    public var overlapTokens: Int
    /// false: one passage per document, whatever its length.
    public var split: Bool

    public init(maxTokens: Int = 512, overlapTokens: Int = 64, split: Bool = true) {
        self.maxTokens = maxTokens
        self.overlapTokens = overlapTokens
        self.split = split
    }

    /// The smallest budget: a UTF-8 character is at most 4 tokens, so a cut that respects characters
    /// always exists within it, and passages below it carry too little text to embed usefully.
    public static let minimumMaxTokens = 16

    func validate() throws(RetrievalError) {
        guard maxTokens >= Self.minimumMaxTokens else {
            throw .invalidPassageOptions("passage tokens must be at least \(Self.minimumMaxTokens) (got \(maxTokens))")
        }
        guard overlapTokens >= 0, overlapTokens < maxTokens else {
            throw .invalidPassageOptions("passage overlap must be at least 0 and less than the passage tokens \(maxTokens) (got \(overlapTokens))")
        }
    }
}

/// One passage of a document: `text.utf8[start..<end]` is the passage exactly.
public struct PassageSpan: Sendable, Equatable {
    /// Index of the passage within its document, from 0.
    public var ordinal: Int
    /// UTF-8 byte offsets into the document's text.
    public var start: Int
    public var end: Int

    public init(ordinal: Int, start: Int, end: Int) {
        self.ordinal = ordinal
        self.start = start
        self.end = end
    }
}

/// Cuts a document into passages of at most `maxTokens` tokens.
///
/// A markdown heading starts a new section; each section is tokenized on its own and cut at token
/// boundaries, preferring (within the last 20% of the budget) a paragraph break, then a sentence end,
/// then a line break, then a space, and never inside a UTF-8 character. Because the tokenizer is a
/// greedy longest match, a passage cut at token boundaries re-tokenizes to exactly the same tokens,
/// so the budget holds for the passage text on its own.
public struct PassageSplitter: Sendable {
    public let options: PassageOptions
    private let tokenizer: WorldTokenizer

    public init(tokenizer: WorldTokenizer, options: PassageOptions) throws {
        try options.validate()
        self.tokenizer = tokenizer
        self.options = options
    }

    /// The passages of `text`, in order; never empty for non-empty text.
    public func split(_ text: String) -> [PassageSpan] {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return [] }
        guard options.split else { return [PassageSpan(ordinal: 0, start: 0, end: bytes.count)] }
        var spans: [PassageSpan] = []
        for section in Self.sections(bytes) {
            splitSection(bytes, section, into: &spans)
        }
        return spans
    }

    // MARK: Sections (markdown headings)

    /// Byte ranges covering `bytes`, a new one starting at each markdown heading line (outside fenced
    /// code) that follows some non-blank text; blank text before a heading stays with what follows.
    static func sections(_ bytes: [UInt8]) -> [Range<Int>] {
        var cuts: [Int] = [0]
        var inFence = false
        var hasContent = false   // non-blank bytes since the last cut
        var lineStart = 0
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count, bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            let line = bytes[lineStart..<lineEnd]
            if isFence(line) {
                inFence.toggle()
            } else if !inFence, isHeading(line), hasContent {
                cuts.append(lineStart)
                hasContent = false
            }
            if line.contains(where: { !isSpace($0) }) { hasContent = true }
            lineStart = lineEnd + 1
        }
        cuts.append(bytes.count)
        return (0..<cuts.count - 1).map { cuts[$0]..<cuts[$0 + 1] }
    }

    /// ATX heading: up to 3 spaces, 1-6 `#`, then a space, a tab or the end of the line.
    static func isHeading(_ line: ArraySlice<UInt8>) -> Bool {
        var i = line.startIndex
        var indent = 0
        while i < line.endIndex, line[i] == UInt8(ascii: " "), indent < 3 { i += 1; indent += 1 }
        var hashes = 0
        while i < line.endIndex, line[i] == UInt8(ascii: "#") { i += 1; hashes += 1 }
        guard (1...6).contains(hashes) else { return false }
        return i == line.endIndex || line[i] == UInt8(ascii: " ") || line[i] == UInt8(ascii: "\t") || line[i] == UInt8(ascii: "\r")
    }

    /// A code fence line: up to 3 spaces, then ``` or ~~~ (headings inside code are not headings).
    static func isFence(_ line: ArraySlice<UInt8>) -> Bool {
        var i = line.startIndex
        var indent = 0
        while i < line.endIndex, line[i] == UInt8(ascii: " "), indent < 3 { i += 1; indent += 1 }
        let rest = line[i...]
        return rest.starts(with: Array("```".utf8)) || rest.starts(with: Array("~~~".utf8))
    }

    // MARK: Cutting a section

    private func splitSection(_ bytes: [UInt8], _ section: Range<Int>, into spans: inout [PassageSpan]) {
        let tokens = bytes.withUnsafeBufferPointer { tokenizer.encode(bytes: UnsafeBufferPointer(rebasing: $0[section])) }
        // offsets[i]: the byte where token i starts; offsets[tokens.count] == section.upperBound.
        var offsets: [Int] = []
        offsets.reserveCapacity(tokens.count + 1)
        var position = section.lowerBound
        for id in tokens {
            offsets.append(position)
            position += tokenizer.tokenBytes(for: id)?.count ?? 0
        }
        offsets.append(position)
        let budget = options.maxTokens
        // Each passage brings at least 4 new tokens (a UTF-8 character is at most 4), so a cut after
        // the previous one always exists within the budget, however large the overlap.
        let overlap = min(options.overlapTokens, budget - 4)
        var first = 0
        var previousCut = 0
        while true {
            if tokens.count - first <= budget {
                spans.append(PassageSpan(ordinal: spans.count, start: offsets[first], end: offsets[tokens.count]))
                return
            }
            let cut = bestCut(bytes, section, offsets, after: max(first, previousCut), limit: first + budget)
            spans.append(PassageSpan(ordinal: spans.count, start: offsets[first], end: offsets[cut]))
            var next = max(cut - overlap, first + 1)
            while !Self.isCharacterBoundary(bytes, offsets[next]) { next += 1 }   // stops at `cut` at the latest
            first = next
            previousCut = cut
        }
    }

    /// The token index to cut before, in (lowest, limit]: the latest boundary of the best kind within
    /// the last 20% of the budget, else the latest character boundary.
    private func bestCut(_ bytes: [UInt8], _ section: Range<Int>, _ offsets: [Int], after lowest: Int, limit: Int) -> Int {
        let windowStart = max(lowest + 1, limit - options.maxTokens / 5)
        var best: (kind: Boundary, index: Int)?
        for t in windowStart...limit where Self.isCharacterBoundary(bytes, offsets[t]) {
            let kind = Self.boundary(bytes, section, at: offsets[t])
            if kind != .none, kind >= (best?.kind ?? .none) { best = (kind, t) }
        }
        if let best { return best.index }
        var t = limit
        while t > lowest + 1, !Self.isCharacterBoundary(bytes, offsets[t]) { t -= 1 }
        return t
    }

    /// What kind of break lies at byte `p`, judged from the whitespace around it.
    enum Boundary: Int, Comparable {
        case none, word, line, sentence, paragraph
        static func < (a: Boundary, b: Boundary) -> Bool { a.rawValue < b.rawValue }
    }

    static func boundary(_ bytes: [UInt8], _ section: Range<Int>, at p: Int) -> Boundary {
        var back = p
        while back > section.lowerBound, isSpace(bytes[back - 1]) { back -= 1 }
        var forward = p
        while forward < section.upperBound, isSpace(bytes[forward]) { forward += 1 }
        let newlines = bytes[back..<forward].reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        if newlines >= 2 { return .paragraph }
        if endsSentence(bytes, section, at: back), back < forward || endsWideSentence(bytes, section, at: back) {
            return .sentence
        }
        if newlines == 1 { return .line }
        return back < forward ? .word : .none
    }

    /// Whether the text before byte `end` ends with a sentence terminator (ASCII or CJK full-width).
    static func endsSentence(_ bytes: [UInt8], _ section: Range<Int>, at end: Int) -> Bool {
        guard end > section.lowerBound else { return false }
        let c = bytes[end - 1]
        return c == UInt8(ascii: ".") || c == UInt8(ascii: "!") || c == UInt8(ascii: "?") || endsWideSentence(bytes, section, at: end)
    }

    /// 。！？ need no space after them (CJK text has none).
    static func endsWideSentence(_ bytes: [UInt8], _ section: Range<Int>, at end: Int) -> Bool {
        guard end - 3 >= section.lowerBound else { return false }
        let tail = (bytes[end - 3], bytes[end - 2], bytes[end - 1])
        return tail == (0xE3, 0x80, 0x82) || tail == (0xEF, 0xBC, 0x81) || tail == (0xEF, 0xBC, 0x9F)
    }

    static func isSpace(_ b: UInt8) -> Bool {
        b == UInt8(ascii: " ") || b == UInt8(ascii: "\n") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\r")
    }

    /// True at the end of the text and before any byte that does not continue a UTF-8 character.
    static func isCharacterBoundary(_ bytes: [UInt8], _ p: Int) -> Bool {
        p >= bytes.count || bytes[p] & 0xC0 != 0x80
    }
}
