import Foundation
import GRDB
import Testing
import RWKVCheckpoint
import RWKVRetrieval

/// Lexical text against a real FTS5 table (unicode61 remove_diacritics 2), as the store creates it.
@Suite struct LexicalTextTests {
    let texts = [
        "Le café de la gare ouvre à sept heures.",
        "The cafe downtown serves espresso.",
        "東京は日本の首都です。",
        "한국어 문장입니다",
        "カタカナのテキスト",
        "NEAR the river OR the sea, AND NOT the lake",
        "prices: 10* discount ^ 2 - col:value",
    ]

    func index(_ texts: [String]) throws -> DatabaseQueue {
        let db = try DatabaseQueue()
        try db.write { db in
            try db.execute(sql: "CREATE VIRTUAL TABLE passages_fts USING fts5(text, tokenize = 'unicode61 remove_diacritics 2')")
            for (i, t) in texts.enumerated() {
                try db.execute(sql: "INSERT INTO passages_fts (rowid, text) VALUES (?, ?)", arguments: [i, LexicalText.normalize(t)])
            }
        }
        return db
    }

    /// Rows matching the user's query, best BM25 first; [] when the query has no terms.
    func search(_ db: DatabaseQueue, _ query: String) throws -> [Int] {
        guard let match = LexicalText.matchExpression(forQuery: query) else { return [] }
        return try db.read { db in
            try Int.fetchAll(db, sql: "SELECT rowid FROM passages_fts WHERE passages_fts MATCH ? ORDER BY bm25(passages_fts), rowid",
                             arguments: [match])
        }
    }

    @Test func normalizeSpacesCJKOnly() {
        #expect(LexicalText.normalize("plain text, café") == "plain text, café")
        #expect(LexicalText.normalize("中文") == "中 文 ")
        #expect(LexicalText.normalize("in 東京 now") == "in 東 京  now")
        #expect(LexicalText.normalize("한국어") == "한 국 어 ")
        #expect(LexicalText.normalize("カナ") == "カ ナ ")
    }

    @Test func matchExpressionQuotesEveryTerm() {
        #expect(LexicalText.matchExpression(forQuery: "cats AND dogs") == #""cats" OR "AND" OR "dogs""#)
        #expect(LexicalText.matchExpression(forQuery: "  -- * ( ) : ^ \" ") == nil)
        #expect(LexicalText.matchExpression(forQuery: "Cafe cafe CAFE") == #""Cafe""#)
        #expect(LexicalText.matchExpression(forQuery: "中文") == #""中" OR "文""#)
        #expect(LexicalText.matchExpression(forQuery: "col:value") == #""col" OR "value""#)
    }

    @Test func accentsMatchBothWays() throws {
        let db = try index(texts)
        #expect(Set(try search(db, "café")) == [0, 1])
        #expect(Set(try search(db, "cafe")) == [0, 1])
        #expect(Set(try search(db, "CAFÉ")) == [0, 1])
        #expect(Set(try search(db, "cafe\u{301}")) == [0, 1])   // decomposed accent
        #expect(try search(db, "gare") == [0])
    }

    @Test func cjkFindsOneCharacterInsideARun() throws {
        let db = try index(texts)
        #expect(try search(db, "京") == [2])
        #expect(try search(db, "首都") == [2])
        #expect(try search(db, "국") == [3])
        #expect(try search(db, "テキ") == [4])
        // Without normalize the run is one token: the single character is not found (why normalize exists).
        let raw = try DatabaseQueue()
        try raw.write { db in
            try db.execute(sql: "CREATE VIRTUAL TABLE t USING fts5(text, tokenize = 'unicode61 remove_diacritics 2')")
            try db.execute(sql: "INSERT INTO t (rowid, text) VALUES (1, ?)", arguments: [texts[2]])
        }
        #expect(try raw.read { try Int.fetchAll($0, sql: "SELECT rowid FROM t WHERE t MATCH ?", arguments: [#""京""#]) } == [])
    }

    @Test func operatorsInQueriesAreOnlyWords() throws {
        let db = try index(texts)
        #expect(try search(db, "NEAR(river sea)") == [5])
        #expect(try search(db, "NOT lake") == [5])
        #expect(Set(try search(db, "col:value discount*")) == [6])
        // Raw FTS5 syntax would be an error here; quoted terms never are.
        #expect(throws: DatabaseError.self) {
            try db.read { try Int.fetchAll($0, sql: "SELECT rowid FROM passages_fts WHERE passages_fts MATCH ?", arguments: ["AND OR ("]) }
        }
        #expect(try search(db, "AND OR (") == [5])
    }

    @Test func randomQueriesNeverError() throws {
        let db = try index(texts)
        let pieces = ["AND", "OR", "NOT", "NEAR", "(", ")", "*", "^", ":", "\"", "-", "+", "{", "}", "text", "café", "中", " ", " ",
                      "col:", "NEAR(", "'", ";", "\\", "\u{0}", "😀", "e\u{301}", "ǅ", "٣", "\u{E000}", ",", "."]
        var rng = SeededGenerator(seed: 61)
        var withTerms = 0
        for _ in 0..<1000 {
            let q = (0..<Int(rng.next() % 10)).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
            if LexicalText.matchExpression(forQuery: q) != nil { withTerms += 1 }
            _ = try search(db, q)   // throws (fails the test) on any FTS5 syntax error
        }
        #expect(withTerms > 500)
    }
}
