import Foundation
import GRDB

/// A scalar a filter compares metadata values with.
public enum FilterValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case real(Double)
    case bool(Bool)
    case null
}

/// The order operators and what they compare: numbers, or ISO-8601 dates (strings).
public enum FilterComparison: String, Sendable, Equatable, CaseIterable {
    case greater = "$gt", greaterOrEqual = "$gte", less = "$lt", lessOrEqual = "$lte"

    var sqlOperator: String {
        switch self {
        case .greater: ">"
        case .greaterOrEqual: ">="
        case .less: "<"
        case .lessOrEqual: "<="
        }
    }

    func holds(_ order: Int) -> Bool {
        switch self {
        case .greater: order > 0
        case .greaterOrEqual: order >= 0
        case .less: order < 0
        case .lessOrEqual: order <= 0
        }
    }
}

/// The operand of an order operator.
public enum FilterBound: Sendable, Equatable {
    case integer(Int64)
    case real(Double)
    /// An ISO-8601 date in the accepted grammar (see `SQLiteDate`); compared as an instant.
    case date(String)
}

/// A metadata filter: the one filter language of the CLI (`--where JSON`), HTTP (`"filter"`) and Swift.
///
/// The JSON form is Mongo-style: `{"key": value}` (equality), `{"key": {"$op": operand}}` with `$eq`,
/// `$ne`, `$gt`/`$gte`/`$lt`/`$lte` (numbers, or ISO-8601 date strings), `$in`/`$nin` (lists of
/// scalars), `$contains` (a list value holds the scalar), `$exists` (bool); `$and`/`$or` (non-empty
/// lists of filters) and `$not` (a filter) at any level; several keys in one object are all required.
/// `{}` matches every document.
///
/// Paths: `a.b.c` is key `c` inside `b` inside `a` (objects only; list values are not traversed).
/// A key containing a dot is written with a backslash: `a\.b` is the single key `a.b` (`\\` is a
/// backslash, `\$` a leading dollar sign of a key).
///
/// Absent keys: every condition on a key requires the key to be present, so a filter on an absent key
/// matches nothing — `$ne` and `$nin` included (unlike MongoDB, where they match absent keys); only
/// `{"$exists": false}` matches absent keys. `{"$not": {...}}` is the exact complement, so
/// `{"$not": {"k": 1}}` matches documents without `k`. Equality is exact: numbers by value (1 == 1.0),
/// strings byte for byte, `true`/`false`/`null` only themselves; equality with a list value is false
/// (use `$contains`).
public indirect enum MetadataFilter: Sendable, Equatable {
    case all
    case and([MetadataFilter])
    case or([MetadataFilter])
    case not(MetadataFilter)
    case exists(path: [String], Bool)
    case equals(path: [String], FilterValue)
    case notEquals(path: [String], FilterValue)
    case oneOf(path: [String], [FilterValue])
    case noneOf(path: [String], [FilterValue])
    case contains(path: [String], FilterValue)
    case compare(path: [String], FilterComparison, FilterBound)

    /// Nesting deeper than this is refused (a filter is written by hand; this only stops abuse).
    public static let maximumDepth = 32

    // MARK: Parsing

    /// Parses the JSON text of a filter.
    public static func parse(json: String) throws -> MetadataFilter {
        guard let value = MetadataJSON.parse(json) else {
            throw FilterError.invalidJSON("expected one JSON object, got \(json.prefix(80).debugDescription)")
        }
        return try parse(value, depth: 0)
    }

    /// Parses a filter given as a `JSONSerialization` object (`[String: Any]`, `[Any]`, strings, numbers, `NSNull`).
    public static func parse(jsonObject: Any) throws -> MetadataFilter {
        guard JSONSerialization.isValidJSONObject([jsonObject]),
              let data = try? JSONSerialization.data(withJSONObject: [jsonObject], options: [.sortedKeys]),   // a stable order of conditions
              case let .array(items)? = MetadataJSON.parse(String(decoding: data, as: UTF8.self)), items.count == 1 else {
            throw FilterError.invalidJSON("the filter object cannot be represented as JSON")
        }
        return try parse(items[0], depth: 0)
    }

    /// Checks that `json` is metadata a filter can be evaluated on: a JSON object.
    public static func validate(metadataJSON json: String) throws {
        guard let value = MetadataJSON.parse(json) else { throw FilterError.invalidMetadata("not valid JSON") }
        guard case .object = value else { throw FilterError.invalidMetadata("got a JSON \(value.kindName)") }
    }

    private static func parse(_ value: MetadataJSON, depth: Int) throws -> MetadataFilter {
        guard depth < maximumDepth else { throw FilterError.tooDeep(limit: maximumDepth) }
        guard case let .object(members) = value else { throw FilterError.notAnObject(context: depth == 0 ? "a filter" : "a condition") }
        var parts: [MetadataFilter] = []
        for member in members {
            if member.key.hasPrefix("$") {
                parts.append(try logical(member.key, member.value, depth: depth))
            } else {
                let path = try parsePath(member.key)
                parts.append(try field(path, display: member.key, member.value, depth: depth))
            }
        }
        return parts.count == 1 ? parts[0] : (parts.isEmpty ? .all : .and(parts))
    }

    private static func logical(_ op: String, _ operand: MetadataJSON, depth: Int) throws -> MetadataFilter {
        switch op {
        case "$and", "$or":
            guard case let .array(items) = operand else {
                throw FilterError.invalidOperand(operator: op, path: nil, expected: "a list of filters")
            }
            guard !items.isEmpty else { throw FilterError.emptyCondition(operator: op) }
            let filters = try items.map { try parse($0, depth: depth + 1) }
            return op == "$and" ? .and(filters) : .or(filters)
        case "$not":
            guard case .object = operand else { throw FilterError.invalidOperand(operator: op, path: nil, expected: "a filter object") }
            return .not(try parse(operand, depth: depth + 1))
        case "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$contains", "$exists":
            throw FilterError.invalidOperand(operator: op, path: nil, expected: "a key: write {\"key\": {\"\(op)\": ...}}")
        default:
            throw FilterError.unknownOperator(op, path: nil)
        }
    }

    /// The conditions on one key: a scalar (equality) or an object of operators.
    private static func field(_ path: [String], display: String, _ value: MetadataJSON, depth: Int) throws -> MetadataFilter {
        guard case let .object(members) = value else {
            if case .array = value {
                throw FilterError.invalidOperand(operator: "equality", path: display, expected: "a scalar (string, number, bool or null); for lists use $in or $contains")
            }
            return .equals(path: path, try scalar(value, op: "equality", path: display))
        }
        guard !members.isEmpty else {
            throw FilterError.invalidOperand(operator: "equality", path: display, expected: "a scalar or an object of operators like {\"$gt\": 1}, not {}")
        }
        var parts: [MetadataFilter] = []
        for member in members {
            let op = member.key
            let operand = member.value
            switch op {
            case "$eq": parts.append(.equals(path: path, try scalar(operand, op: op, path: display)))
            case "$ne": parts.append(.notEquals(path: path, try scalar(operand, op: op, path: display)))
            case "$gt", "$gte", "$lt", "$lte":
                parts.append(.compare(path: path, FilterComparison(rawValue: op)!, try bound(operand, op: op, path: display)))
            case "$in", "$nin":
                guard case let .array(items) = operand else {
                    throw FilterError.invalidOperand(operator: op, path: display, expected: "a list of scalars")
                }
                let values = try items.map { try scalar($0, op: op, path: display) }
                parts.append(op == "$in" ? .oneOf(path: path, values) : .noneOf(path: path, values))
            case "$contains": parts.append(.contains(path: path, try scalar(operand, op: op, path: display)))
            case "$exists":
                guard case let .bool(b) = operand else { throw FilterError.invalidOperand(operator: op, path: display, expected: "true or false") }
                parts.append(.exists(path: path, b))
            case "$not":
                guard depth + 1 < maximumDepth else { throw FilterError.tooDeep(limit: maximumDepth) }
                parts.append(.not(try field(path, display: display, operand, depth: depth + 1)))
            case "$and", "$or":
                throw FilterError.invalidOperand(operator: op, path: display, expected: "to be at the top of a filter, not under a key")
            default:
                if op.hasPrefix("$") { throw FilterError.unknownOperator(op, path: display) }
                throw FilterError.invalidOperand(operator: "equality", path: display,
                                                 expected: "a scalar or operators; for the nested key write \"\(display).\(op)\"")
            }
        }
        return parts.count == 1 ? parts[0] : .and(parts)
    }

    private static func scalar(_ value: MetadataJSON, op: String, path: String) throws -> FilterValue {
        switch value {
        case let .string(s): return .string(s)
        case let .integer(i): return .integer(i)
        case let .real(r): return .real(r)
        case let .bool(b): return .bool(b)
        case .null: return .null
        case .array, .object: throw FilterError.invalidOperand(operator: op, path: path, expected: "a scalar (string, number, bool or null)")
        }
    }

    private static func bound(_ value: MetadataJSON, op: String, path: String) throws -> FilterBound {
        switch value {
        case let .integer(i): return .integer(i)
        case let .real(r): return .real(r)
        case let .string(s) where SQLiteDate.julianMilliseconds(s) != nil: return .date(s)
        default:
            throw FilterError.invalidOperand(operator: op, path: path,
                                             expected: "a number or an ISO-8601 date like \"2024-05-01\" or \"2024-05-01T12:30:00Z\"")
        }
    }

    /// Splits a dotted path; `\.` is a literal dot, `\\` a backslash, `\$` a dollar sign.
    public static func parsePath(_ text: String) throws -> [String] {
        var keys: [String] = []
        var current = ""
        var escaping = false
        for c in text {
            if escaping {
                guard c == "." || c == "\\" || c == "$" else { throw FilterError.invalidPath(text, reason: "\\\(c) is not an escape (use \\. \\\\ or \\$)") }
                current.append(c)
                escaping = false
            } else if c == "\\" {
                escaping = true
            } else if c == "." {
                guard !current.isEmpty else { throw FilterError.invalidPath(text, reason: "empty key") }
                keys.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        guard !escaping else { throw FilterError.invalidPath(text, reason: "ends with a lone backslash") }
        guard !current.isEmpty else { throw FilterError.invalidPath(text, reason: "empty key") }
        keys.append(current)
        return keys
    }

    // MARK: Evaluation in Swift (the reference the SQL must agree with)

    /// Whether a document with this metadata (a JSON object, or nil for none) passes the filter.
    public func matches(metadataJSON: String?) -> Bool {
        let root = metadataJSON.flatMap(MetadataJSON.parse) ?? .null
        return matches(root)
    }

    func matches(_ root: MetadataJSON) -> Bool {
        switch self {
        case .all: return true
        case let .and(fs): return fs.allSatisfy { $0.matches(root) }
        case let .or(fs): return fs.contains { $0.matches(root) }
        case let .not(f): return !f.matches(root)
        case let .exists(path, present): return Self.resolve(root, path).isEmpty != present
        case let .equals(path, v): return Self.resolve(root, path).contains { Self.equal($0, v) }
        case let .notEquals(path, v): return Self.resolve(root, path).contains { !Self.equal($0, v) }
        case let .oneOf(path, vs): return Self.resolve(root, path).contains { n in vs.contains { Self.equal(n, $0) } }
        case let .noneOf(path, vs): return Self.resolve(root, path).contains { n in !vs.contains { Self.equal(n, $0) } }
        case let .contains(path, v):
            return Self.resolve(root, path).contains { n in
                if case let .array(items) = n { return items.contains { Self.equal($0, v) } }
                return false
            }
        case let .compare(path, op, bound):
            return Self.resolve(root, path).contains { n in Self.order(n, bound).map(op.holds) ?? false }
        }
    }

    /// Every value the path reaches: `json_each` visits duplicate keys, so one path can reach several.
    static func resolve(_ root: MetadataJSON, _ path: [String]) -> [MetadataJSON] {
        var nodes = [root]
        for key in path {
            nodes = nodes.flatMap { node -> [MetadataJSON] in
                guard case let .object(members) = node else { return [] }
                return members.filter { $0.key.utf8.elementsEqual(key.utf8) }.map(\.value)
            }
        }
        return nodes
    }

    static func equal(_ node: MetadataJSON, _ value: FilterValue) -> Bool {
        switch (node, value) {
        case let (.string(a), .string(b)): return a.utf8.elementsEqual(b.utf8)
        case let (.bool(a), .bool(b)): return a == b
        case (.null, .null): return true
        case (.integer, .integer), (.integer, .real), (.real, .integer), (.real, .real):
            return numericOrder(node, value.asNumber!) == 0
        default: return false
        }
    }

    /// The order of a metadata value relative to a bound, or nil when they do not compare.
    static func order(_ node: MetadataJSON, _ bound: FilterBound) -> Int? {
        switch (node, bound) {
        case (.integer, .integer), (.integer, .real), (.real, .integer), (.real, .real):
            let b: MetadataJSON = switch bound { case let .integer(i): .integer(i); case let .real(r): .real(r); case .date: .null }
            return numericOrder(node, b)
        case let (.string(s), .date(d)):
            guard let a = SQLiteDate.julianMilliseconds(s), let b = SQLiteDate.julianMilliseconds(d) else { return nil }
            return a < b ? -1 : (a > b ? 1 : 0)
        default: return nil
        }
    }

    /// Exact comparison of two numbers, integer against real as SQLite's `sqlite3IntFloatCompare`.
    static func numericOrder(_ a: MetadataJSON, _ b: MetadataJSON) -> Int {
        func cmp<T: Comparable>(_ x: T, _ y: T) -> Int { x < y ? -1 : (x > y ? 1 : 0) }
        func intReal(_ i: Int64, _ r: Double) -> Int {
            if r < -9223372036854775808.0 { return 1 }
            if r >= 9223372036854775808.0 { return -1 }
            let y = Int64(r)
            if i < y { return -1 }
            if i > y { return 1 }
            return cmp(Double(i), r)
        }
        switch (a, b) {
        case let (.integer(x), .integer(y)): return cmp(x, y)
        case let (.real(x), .real(y)): return cmp(x, y)
        case let (.integer(x), .real(y)): return intReal(x, y)
        case let (.real(x), .integer(y)): return -intReal(y, x)
        default: return 0
        }
    }

    // MARK: Compilation to SQLite JSON1

    /// A boolean SQL expression over `metadataColumn` (a column of JSON object text, or NULL) that is
    /// true exactly when `matches` is; it never evaluates to NULL. Every key and value is a bound
    /// parameter in `arguments`, in order; `metadataColumn` is the caller's SQL (never user input).
    ///
    /// With `indexedDocument` (the SQL of the document's id column, e.g. `d.id`), each path is looked up
    /// in `metadata_index` (`MetadataIndex`: one B-tree probe per condition) instead of walking every
    /// document's JSON with `json_each`; the same documents match either way.
    public func sqlCondition(metadataColumn: String, indexedDocument: String? = nil) -> (sql: String, arguments: [DatabaseValue]) {
        var compiler = SQLCompiler(column: metadataColumn, indexedDocument: indexedDocument)
        let sql = compiler.compile(self)
        return (sql, compiler.arguments)
    }

    private struct SQLCompiler {
        let column: String
        let indexedDocument: String?
        var arguments: [DatabaseValue] = []
        var aliases = 0

        mutating func bind(_ value: DatabaseValueConvertible) -> String {
            arguments.append(value.databaseValue)
            return "?"
        }

        mutating func compile(_ filter: MetadataFilter) -> String {
            switch filter {
            case .all: return "1"
            case let .and(fs): return fs.isEmpty ? "1" : "(" + fs.map { compile($0) }.joined(separator: " AND ") + ")"
            case let .or(fs): return fs.isEmpty ? "0" : "(" + fs.map { compile($0) }.joined(separator: " OR ") + ")"
            case let .not(f): return "(NOT " + compile(f) + ")"
            case let .exists(path, present):
                let e = reach(path) { _, _ in "1" }
                return present ? e : "(NOT \(e))"
            case let .equals(path, v): return reach(path) { c, a in c.equal(a, v) }
            case let .notEquals(path, v): return reach(path) { c, a in "NOT \(c.equal(a, v))" }
            case let .oneOf(path, vs):
                if vs.isEmpty { return "0" }
                return reach(path) { c, a in "(" + vs.map { c.equal(a, $0) }.joined(separator: " OR ") + ")" }
            case let .noneOf(path, vs):
                if vs.isEmpty { return reach(path) { _, _ in "1" } }
                return reach(path) { c, a in "NOT (" + vs.map { c.equal(a, $0) }.joined(separator: " OR ") + ")" }
            case let .contains(path, v):
                if let document = indexedDocument {
                    // The list's scalar elements are rows of their own (`element` = 1) at the list's path.
                    let e = newAlias()
                    let key = bind(MetadataIndex.pathKey(path))
                    return "\(document) IN (SELECT \(e).document FROM \(MetadataIndex.tableName) AS \(e) WHERE \(e).path = \(key) AND \(e).element = 1 AND \(equal(e, v)))"
                }
                return reach(path) { c, a in
                    let e = c.newAlias()
                    return "(\(a).type = 'array' AND EXISTS (SELECT 1 FROM json_each(\(a).value) AS \(e) WHERE \(c.equal(e, v))))"
                }
            case let .compare(path, op, bound):
                return reach(path) { c, a in
                    switch bound {
                    case let .integer(i): return "(\(a).type IN ('integer', 'real') AND \(a).value \(op.sqlOperator) \(c.bind(i)))"
                    case let .real(r): return "(\(a).type IN ('integer', 'real') AND \(a).value \(op.sqlOperator) \(c.bind(r)))"
                    case let .date(d):
                        let globs = SQLiteDate.sqlGlobPatterns.map { "\(a).value GLOB '\($0)'" }.joined(separator: " OR ")
                        return "(\(a).type = 'text' AND (\(globs)) AND julianday(\(a).value) \(op.sqlOperator) julianday(\(c.bind(d))))"
                    }
                }
            }
        }

        mutating func newAlias() -> String {
            aliases += 1
            return "mf\(aliases)"
        }

        /// `EXISTS` a node reached by `path` (object members only, each level a `json_each`) for which
        /// `condition` holds; the keys are bound before the condition's own values (placeholder order).
        mutating func reach(_ path: [String], _ condition: (inout SQLCompiler, String) -> String) -> String {
            if let document = indexedDocument {
                let a = newAlias()
                let key = bind(MetadataIndex.pathKey(path))
                return "\(document) IN (SELECT \(a).document FROM \(MetadataIndex.tableName) AS \(a) WHERE \(a).path = \(key) AND \(a).element = 0 AND \(condition(&self, a)))"
            }
            var from: [String] = []
            var whereParts: [String] = []
            var previous: String?
            for key in path {
                let a = newAlias()
                if let p = previous {
                    from.append("json_each(CASE WHEN \(p).type = 'object' THEN \(p).value END) AS \(a)")
                    whereParts.append("\(p).type = 'object'")
                } else {
                    from.append("json_each(\(column)) AS \(a)")
                }
                whereParts.append("\(a).key = \(bind(key))")
                previous = a
            }
            let last = previous!
            whereParts.append(condition(&self, last))
            return "EXISTS (SELECT 1 FROM " + from.joined(separator: ", ") + " WHERE " + whereParts.joined(separator: " AND ") + ")"
        }

        mutating func equal(_ a: String, _ v: FilterValue) -> String {
            switch v {
            case let .string(s): return "(\(a).type = 'text' AND \(a).value = \(bind(s)))"
            case let .integer(i): return "(\(a).type IN ('integer', 'real') AND \(a).value = \(bind(i)))"
            case let .real(r): return "(\(a).type IN ('integer', 'real') AND \(a).value = \(bind(r)))"
            case let .bool(b): return "\(a).type = '\(b ? "true" : "false")'"
            case .null: return "\(a).type = 'null'"
            }
        }
    }
}

extension FilterValue {
    var asNumber: MetadataJSON? {
        switch self {
        case let .integer(i): .integer(i)
        case let .real(r): .real(r)
        default: nil
        }
    }
}

extension MetadataJSON {
    var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "bool"
        case .integer, .real: "number"
        case .string: "string"
        case .array: "list"
        case .object: "object"
        }
    }
}
