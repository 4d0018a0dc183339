/// Text for the lexical (BM25) index, SQLite FTS5 with `tokenize = 'unicode61 remove_diacritics 2'`.
///
/// unicode61 splits on everything that is not a letter, a number or private use, folds case and
/// (remove_diacritics 2) strips accents, so `Café` and `cafe` are the same token. It keeps a run of
/// CJK ideographs, kana or hangul as one token (there are no spaces in such text), which makes a word
/// inside a run unfindable; `normalize` puts spaces around each such character so that each is a
/// token, and BM25 over single characters (with their adjacency ranked by the OR of all of them) is
/// the usual FTS fallback for CJK without a dictionary segmenter.
public enum LexicalText {
    /// The text to put into the FTS table (and the query, before `matchExpression`): CJK ideographs,
    /// kana and hangul syllables each surrounded by spaces; other text unchanged.
    public static func normalize(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isSpacedScript) else { return text }
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            if isSpacedScript(s) {
                if let last = out.last, last != " " { out.append(" ") }
                out.append(s)
                out.append(" ")
            } else {
                out.append(s)
            }
        }
        return String(out)
    }

    /// A MATCH expression for FTS5 from what a user typed: each term (letters and digits, with their
    /// combining marks; each CJK character alone) as an FTS5 string, joined with OR. No user text is
    /// ever FTS5 syntax (operators, columns, prefixes, NEAR are all quoted away). Bind it as a
    /// parameter. nil when the query has no terms (then there is nothing to search lexically).
    public static func matchExpression(forQuery query: String) -> String? {
        var terms: [String] = []
        var seen = Set<String>()
        var current = String.UnicodeScalarView()
        func flush() {
            guard !current.isEmpty else { return }
            let term = String(current)
            current = String.UnicodeScalarView()
            if seen.insert(term.lowercased()).inserted { terms.append(term) }
        }
        for s in query.unicodeScalars {
            if isSpacedScript(s) {
                flush()
                current.append(s)
                flush()
            } else if isTokenCharacter(s) {
                current.append(s)
            } else if isMark(s), !current.isEmpty {
                current.append(s)   // a combining accent stays with its letter; FTS5 removes it
            } else {
                flush()
            }
        }
        flush()
        guard !terms.isEmpty else { return nil }
        return terms.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }.joined(separator: " OR ")
    }

    /// unicode61's token characters: the categories L*, N* and Co.
    static func isTokenCharacter(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .decimalNumber, .letterNumber, .otherNumber, .privateUse:
            return true
        default:
            return false
        }
    }

    static func isMark(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: true
        default: false
        }
    }

    /// Scripts written without spaces between words: CJK ideographs, kana, hangul syllables.
    static func isSpacedScript(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x3040...0x309F, 0x30A0...0x30FF, 0x31F0...0x31FF, 0xFF66...0xFF9D: true   // kana, half-width katakana
        case 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0x20000...0x3134F: true // CJK ideographs
        case 0xAC00...0xD7AF: true                                                      // hangul syllables
        default: false
        }
    }
}
