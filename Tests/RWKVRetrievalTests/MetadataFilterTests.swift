import Foundation
import GRDB
import Testing
import RWKVCheckpoint
import RWKVSupport
@testable import RWKVRetrieval

/// The filter language: parsing, errors, semantics, and SQL (a real SQLite through GRDB) agreeing
/// with the Swift evaluator on thousands of random documents and filters.
@Suite struct MetadataFilterTests {
    /// The mask a filter's passage ids become: exactly those ids, across word boundaries, none outside.
    @Test func passageMaskHoldsExactlyItsIDs() {
        let ids: [Int64] = [1, 63, 64, 65, 127, 128, 5000]
        let mask = PassageMask(ids: ids.reversed() + [64, -2])  // any order, repeats and negatives ignored
        #expect(mask.count == ids.count)
        #expect((Int64(-3)...6000).filter(mask.contains) == ids)
        #expect(Array(mask) == ids)
        #expect(Array(mask.prefix(2)) == [1, 63])
        let empty = PassageMask(ids: [Int64]())
        #expect(!empty.contains(0) && empty.count == 0 && Array(empty).isEmpty)
    }

    /// An in-memory database holding `metadata` rows, id = index, and their metadata index.
    func database(_ metadata: [String?]) throws -> DatabaseQueue {
        let db = try DatabaseQueue()
        try db.write { db in
            try db.execute(sql: "CREATE TABLE docs (id INTEGER PRIMARY KEY, metadata TEXT)")
            for sql in MetadataIndex.statements(documents: "docs") { try db.execute(sql: sql) }
            for (i, m) in metadata.enumerated() {
                try db.execute(sql: "INSERT INTO docs (id, metadata) VALUES (?, ?)", arguments: [i, m])
                try MetadataIndex.insert(db, document: i, metadata: m)
            }
        }
        return db
    }

    /// The documents the SQL matches, checked to be the same through `json_each` and the metadata index.
    func sqlMatches(_ db: DatabaseQueue, _ filter: MetadataFilter, sourceLocation: SourceLocation = #_sourceLocation) throws -> [Int] {
        func run(_ c: (sql: String, arguments: [DatabaseValue])) throws -> [Int] {
            try db.read { db in
                try Int.fetchAll(db, sql: "SELECT id FROM docs WHERE \(c.sql) ORDER BY id",
                                 arguments: StatementArguments(c.arguments.map { $0 as (any DatabaseValueConvertible)? }))
            }
        }
        let scanned = try run(filter.sqlCondition(metadataColumn: "docs.metadata"))
        let indexed = try run(filter.sqlCondition(metadataColumn: "docs.metadata", indexedDocument: "docs.id"))
        #expect(indexed == scanned, "metadata index vs json_each: \(filter)", sourceLocation: sourceLocation)
        return scanned
    }

    func swiftMatches(_ metadata: [String?], _ filter: MetadataFilter) -> [Int] {
        metadata.indices.filter { filter.matches(metadataJSON: metadata[$0]) }
    }

    /// Asserts both evaluators give `expected` (document indices) for the filter text.
    func check(_ filter: String, _ metadata: [String?], _ expected: [Int], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let f = try MetadataFilter.parse(json: filter)
        #expect(swiftMatches(metadata, f) == expected, "swift: \(filter)", sourceLocation: sourceLocation)
        #expect(try sqlMatches(try database(metadata), f) == expected, "sql: \(filter)", sourceLocation: sourceLocation)
    }

    let people: [String?] = [
        #"{"name": "Ada", "age": 36, "tags": ["math", "code"], "born": "1815-12-10", "address": {"city": "London"}}"#,
        #"{"name": "Alan", "age": 41.5, "tags": ["code"], "born": "1912-06-23T08:00:00Z", "address": {"city": "Wilmslow"}, "a.b": 1}"#,
        #"{"name": "Grace", "tags": [], "born": "1906-12-09", "active": true, "note": null}"#,
        nil,
        #"{"name": "Édith", "age": 36.0, "active": false, "address": "Paris"}"#,
    ]

    @Test func equalityAndOperators() throws {
        try check(#"{"name": "Ada"}"#, people, [0])
        try check(#"{"name": {"$eq": "Alan"}}"#, people, [1])
        try check(#"{"age": 36}"#, people, [0, 4])                   // 36 == 36.0
        try check(#"{"age": {"$gt": 36}}"#, people, [1])
        try check(#"{"age": {"$gte": 36, "$lt": 41.5}}"#, people, [0, 4])
        try check(#"{"age": {"$lte": 41.5}}"#, people, [0, 1, 4])
        try check(#"{"name": {"$in": ["Ada", "Grace", "Nobody"]}}"#, people, [0, 2])
        try check(#"{"name": {"$in": []}}"#, people, [])
        try check(#"{"tags": {"$contains": "code"}}"#, people, [0, 1])
        try check(#"{"tags": "code"}"#, people, [])                 // equality with a list is false
        try check(#"{"active": true}"#, people, [2])
        try check(#"{"active": false}"#, people, [4])
        try check(#"{"note": null}"#, people, [2])
        try check(#"{"address.city": "London"}"#, people, [0])
        try check(#"{"address": "Paris"}"#, people, [4])
        try check(#"{"a\\.b": 1}"#, people, [1])                     // a literal dot in a key
        try check(#"{"a.b": 1}"#, people, [])                        // key b inside a: absent
        try check(#"{"name": "Édith"}"#, people, [4])
        try check(#"{"name": "Edith"}"#, people, [])
        try check("{}", people, [0, 1, 2, 3, 4])
    }

    @Test func datesCompareAsInstants() throws {
        try check(#"{"born": {"$gt": "1900-01-01"}}"#, people, [1, 2])
        try check(#"{"born": {"$lt": "1912-06-23T09:00:00+02:00"}}"#, people, [0, 2])   // 07:00Z: before Alan's 08:00Z
        try check(#"{"born": {"$gte": "1912-06-23T08:00:00.000Z"}}"#, people, [1])
        try check(#"{"born": {"$lte": "1906-12-09T00:00"}}"#, people, [0, 2])
    }

    @Test func absentKeysMatchNothingButExistsFalseAndNot() throws {
        try check(#"{"age": {"$ne": 36}}"#, people, [1])              // Grace (no age) and nil do not match
        try check(#"{"age": {"$nin": [36]}}"#, people, [1])
        try check(#"{"age": {"$exists": true}}"#, people, [0, 1, 4])
        try check(#"{"age": {"$exists": false}}"#, people, [2, 3])
        try check(#"{"$not": {"age": 36}}"#, people, [1, 2, 3])
        try check(#"{"age": {"$not": {"$gt": 40}}}"#, people, [0, 2, 3, 4])
        try check(#"{"missing.deeper": {"$lt": 1}}"#, people, [])
        try check(#"{"address.city": {"$exists": false}}"#, people, [2, 3, 4])
        try check(#"{"$or": [{"name": "Ada"}, {"active": true}]}"#, people, [0, 2])
        try check(#"{"$and": [{"age": 36}, {"tags": {"$exists": true}}]}"#, people, [0])
    }

    @Test func errorsNameTheOperatorOrPath() throws {
        func message(_ json: String) -> String {
            do {
                _ = try MetadataFilter.parse(json: json)
                return "no error"
            } catch { return "\(error)" }
        }
        #expect(message(#"{"age": {"$between": [1, 2]}}"#).contains("$between"))
        #expect(message(#"{"age": {"$between": [1, 2]}}"#).contains("age"))
        #expect(message(#"{"$nor": []}"#).contains("$nor"))
        #expect(message(#"{"$and": []}"#).contains("$and"))
        #expect(message(#"{"$or": {}}"#).contains("$or"))
        #expect(message(#"{"age": {"$gt": "soon"}}"#).contains("$gt"))
        #expect(message(#"{"age": {"$gt": "soon"}}"#).contains("ISO-8601"))
        #expect(message(#"{"tags": {"$in": "code"}}"#).contains("$in on tags"))
        #expect(message(#"{"tags": {"$contains": ["a"]}}"#).contains("$contains on tags"))
        #expect(message(#"{"x": {"$exists": 1}}"#).contains("$exists on x"))
        #expect(message(#"{"a..b": 1}"#).contains("a..b"))
        #expect(message(#"{"a\\": 1}"#).contains("backslash"))
        #expect(message(#"{"x": [1, 2]}"#).contains("x"))
        #expect(message(#"{"x": {}}"#).contains("x"))
        #expect(message(#"{"x": {"y": 1}}"#).contains("x.y"))
        #expect(message("[1]").contains("object"))
        #expect(message("{").contains("JSON"))
        #expect(message(#"{"$gt": 1}"#).contains("$gt"))
        let deep = String(repeating: #"{"$not": "#, count: 40) + "{}" + String(repeating: "}", count: 40)
        #expect(message(deep).contains("deeper"))
        #expect(throws: FilterError.self) { try MetadataFilter.validate(metadataJSON: "[1]") }
        try MetadataFilter.validate(metadataJSON: #"{"a": 1}"#)
    }

    @Test func parseFromJSONObjectAgreesWithText() throws {
        let object: [String: Any] = ["age": ["$gte": 36, "$lt": 41.5], "active": true, "tags": ["$contains": "code"]]
        let f = try MetadataFilter.parse(jsonObject: object)
        let g = try MetadataFilter.parse(json: #"{"active": true, "age": {"$gte": 36, "$lt": 41.5}, "tags": {"$contains": "code"}}"#)
        #expect(f == g)
        #expect(swiftMatches(people, f) == swiftMatches(people, g))
        #expect(throws: FilterError.self) { try MetadataFilter.parse(jsonObject: Date()) }
    }

    @Test func userStringsOnlyReachSQLAsParameters() throws {
        let nasty = #"x'); DROP TABLE docs; --"#
        let keyJSON = nasty.replacingOccurrences(of: "\"", with: "\\\"")
        let metadata: [String?] = ["{\"\(keyJSON)\": \"\(keyJSON)\"}", #"{"q\"k": 1, "sp ace": [1]}"#]
        let f = try MetadataFilter.parse(json: "{\"\(keyJSON)\": \"\(keyJSON)\"}")
        let c = f.sqlCondition(metadataColumn: "docs.metadata")
        #expect(!c.sql.contains("DROP"))
        #expect(c.arguments.contains(nasty.databaseValue))
        try check("{\"\(keyJSON)\": \"\(keyJSON)\"}", metadata, [0])
        try check(#"{"q\"k": 1}"#, metadata, [1])
        try check(#"{"sp ace": {"$contains": 1}}"#, metadata, [1])
        #expect(try database(metadata).read { try Int.fetchOne($0, sql: "SELECT count(*) FROM docs") } == 2)
    }

    @Test func datesFollowSQLiteExactly() throws {
        // julianday() of SQLite itself, against the Swift computation, for accepted and refused forms.
        let samples = ["2024-01-01", "2024-02-30", "2024-13-01", "2024-00-10", "2024-01-32", "0000-01-01", "9999-12-31T23:59:59.999",
                       "9999-12-31T23:00-14:00", "2024-01-01T24:59", "2024-01-01T25:00", "2024-01-01T10:60", "2024-01-01T10:00:60",
                       "2024-01-01T10:00:12.9996", "2024-01-01T10:00:12.123", "2024-01-01T10:00:12.1", "2024-01-01T10:00+14:00",
                       "2024-01-01T10:00+15:00", "2024-01-01T10:00:00.5-03:30", "2024-01-01Z", "2024-01-01 10:00", "now", "12:00",
                       "2460000.5", "2024-1-01", "2024-01-01T10:00:00.", "2024-01-01T10:00:00.12Z"]
        let db = try DatabaseQueue()
        let globs = SQLiteDate.sqlGlobPatterns.map { "?1 GLOB '\($0)'" }.joined(separator: " OR ")
        var accepted = 0
        for s in samples {
            let sql = try db.read { db in
                try Double.fetchOne(db, sql: "SELECT CASE WHEN \(globs) THEN julianday(?1) END", arguments: [s])
            }
            let swift = SQLiteDate.julianMilliseconds(s)
            #expect(swift == sql.map { Int64(($0 * 86_400_000).rounded()) }, "\(s)")
            if swift != nil { accepted += 1 }
        }
        #expect(accepted == 10)
    }

    // MARK: Random documents and filters: SQL == Swift

    @Test func randomFiltersAgreeWithSQL() throws {
        var rng = SeededGenerator(seed: 17)
        var generator = RandomMetadata()
        let metadata = (0..<2000).map { _ in generator.document(&rng) }
        let db = try database(metadata)
        // Parsed once (matches(metadataJSON:) parses on every call; the evaluation is the same).
        let parsed = metadata.map { $0.flatMap(MetadataJSON.parse) ?? .null }
        #expect(parsed.indices.allSatisfy { MetadataFilter.all.matches(metadataJSON: metadata[$0]) == MetadataFilter.all.matches(parsed[$0]) })
        var sizes: [Int] = []
        for _ in 0..<500 {
            let text = generator.filter(&rng, depth: 0)
            let filter = try MetadataFilter.parse(json: text)
            let swift = parsed.indices.filter { filter.matches(parsed[$0]) }
            let sql = try sqlMatches(db, filter)
            #expect(swift == sql, "\(text)")
            if swift != sql { break }
            sizes.append(swift.count)
        }
        // The filters are neither trivially empty nor trivially full.
        let partial = sizes.filter { $0 > 0 && $0 < metadata.count }.count
        #expect(partial > sizes.count / 3, "only \(partial) of \(sizes.count) filters matched some but not all")
    }
}

/// Random metadata objects and filters over a small shared vocabulary, so that filters often hit.
struct RandomMetadata {
    let keys = ["a", "b", "n", "tags", "when", "x.y", "q\"k", "é"]
    let strings = ["red", "green", "Red", "é", "e\u{301}", "", "2024-01-01", "2024-03-15T10:30:00Z", "2024-03-15T12:30+02:00",
                   "2023-12-31T23:59:59.999", "2024-02-30", "2024-13-01", "2024-01-01T25:00", "2024-06-01T08:00:00.5", "soon"]
    let validDates = ["2024-01-01", "2024-03-15T10:30:00Z", "2023-12-31T23:59:59.999", "2024-02-01T00:00", "2024-03-15T10:30+00:00"]

    func pick<T>(_ xs: [T], _ rng: inout SeededGenerator) -> T { xs[Int(rng.next() % UInt64(xs.count))] }
    func chance(_ p: Double, _ rng: inout SeededGenerator) -> Bool { Double(rng.next() % 1000) < p * 1000 }

    func scalarJSON(_ rng: inout SeededGenerator) -> String {
        switch rng.next() % 7 {
        case 0, 1: return String(Int(rng.next() % 11) - 5)
        case 2: return String(Double(Int(rng.next() % 21) - 10) / 2)          // halves: exact in both parsers
        case 3, 4: return jsonStringLiteral(pick(strings, &rng))
        case 5: return chance(0.5, &rng) ? "true" : "false"
        default: return "null"
        }
    }

    func valueJSON(_ rng: inout SeededGenerator, depth: Int) -> String {
        switch rng.next() % 8 {
        case 0: return "[" + (0..<Int(rng.next() % 4)).map { _ in scalarJSON(&rng) }.joined(separator: ",") + "]"
        case 1 where depth < 2: return object(&rng, depth: depth + 1)
        default: return scalarJSON(&rng)
        }
    }

    func object(_ rng: inout SeededGenerator, depth: Int) -> String {
        let count = Int(rng.next() % 5)
        var members: [String] = []
        for _ in 0..<count {
            let key = pick(keys, &rng)
            // Now and then a key written with a \u escape (json_each must unescape it like we do).
            let written = key == "é" && chance(0.5, &rng) ? "\"\\u00e9\"" : jsonStringLiteral(key)
            members.append(written + ":" + valueJSON(&rng, depth: depth))
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    mutating func document(_ rng: inout SeededGenerator) -> String? {
        if chance(0.05, &rng) { return nil }
        return object(&rng, depth: 0)
    }

    func path(_ rng: inout SeededGenerator) -> String {
        let depth = 1 + Int(rng.next() % 2)
        return (0..<depth).map { _ in pick(keys, &rng).replacingOccurrences(of: ".", with: "\\.") }.joined(separator: ".")
    }

    func filter(_ rng: inout SeededGenerator, depth: Int) -> String {
        if depth < 3, chance(0.3, &rng) {
            let n = 1 + Int(rng.next() % 3)
            switch rng.next() % 3 {
            case 0: return "{\"$and\": [" + (0..<n).map { _ in filter(&rng, depth: depth + 1) }.joined(separator: ",") + "]}"
            case 1: return "{\"$or\": [" + (0..<n).map { _ in filter(&rng, depth: depth + 1) }.joined(separator: ",") + "]}"
            default: return "{\"$not\": " + filter(&rng, depth: depth + 1) + "}"
            }
        }
        return "{" + jsonStringLiteral(path(&rng)) + ": " + condition(&rng) + "}"
    }

    func condition(_ rng: inout SeededGenerator) -> String {
        let number = { (rng: inout SeededGenerator) -> String in
            rng.next() % 2 == 0 ? String(Int(rng.next() % 11) - 5) : String(Double(Int(rng.next() % 21) - 10) / 2)
        }
        switch rng.next() % 11 {
        case 0: return scalarJSON(&rng)
        case 1: return "{\"$eq\": \(scalarJSON(&rng))}"
        case 2: return "{\"$ne\": \(scalarJSON(&rng))}"
        case 3: return "{\"\(pick(FilterComparison.allCases, &rng).rawValue)\": \(number(&rng))}"
        case 4: return "{\"\(pick(FilterComparison.allCases, &rng).rawValue)\": \(jsonStringLiteral(pick(validDates, &rng)))}"
        case 5: return "{\"$in\": [" + (0..<Int(rng.next() % 4)).map { _ in scalarJSON(&rng) }.joined(separator: ",") + "]}"
        case 6: return "{\"$nin\": [" + (0..<Int(rng.next() % 4)).map { _ in scalarJSON(&rng) }.joined(separator: ",") + "]}"
        case 7: return "{\"$contains\": \(scalarJSON(&rng))}"
        case 8: return "{\"$exists\": \(chance(0.5, &rng))}"
        case 9: return "{\"$not\": \(condition(&rng))}"
        default: return "{\"$gte\": \(number(&rng)), \"$lt\": \(number(&rng))}"
        }
    }
}
