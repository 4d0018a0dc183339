import Foundation

/// A retrieval data set in the BEIR layout: `corpus.jsonl` (`{"_id", "title"?, "text"}` lines),
/// `queries.jsonl` (`{"_id", "text"}` lines) and qrels TSV (`query-id corpus-id score`, with a header
/// line). NanoBEIR's files converted to these names load the same (its qrels have no score column:
/// every listed pair is relevance 1; its corpus has no titles).
public struct BEIRDataset: Sendable {
    public struct Document: Sendable, Equatable {
        public var id: String
        public var title: String
        public var text: String
        /// What is embedded: "title text" as BEIR's dense baselines do, or the text without a title.
        public var indexedText: String { title.isEmpty ? text : title + " " + text }
        public init(id: String, title: String = "", text: String) { self.id = id; self.title = title; self.text = text }
    }
    public struct Query: Sendable, Equatable {
        public var id: String
        public var text: String
        public init(id: String, text: String) { self.id = id; self.text = text }
    }

    public var corpus: [Document]
    public var queries: [Query]
    public var qrels: Qrels

    public init(corpus: [Document], queries: [Query], qrels: Qrels) {
        self.corpus = corpus
        self.queries = queries
        self.qrels = qrels
    }

    /// Queries that have judgements (the ones evaluated), in file order.
    public var judgedQueries: [Query] { queries.filter { qrels.judgements[$0.id] != nil } }

    public static func load(corpus: URL, queries: URL, qrels: URL) throws -> BEIRDataset {
        let documents = try readJSONL(corpus, what: "documents") { object, line in
            guard let id = idString(object["_id"]) else { throw EvaluationError.badLine(file: corpus.path, line: line, reason: "missing \"_id\"") }
            guard let text = object["text"] as? String else {
                throw EvaluationError.badLine(file: corpus.path, line: line, reason: "missing or non-string \"text\"")
            }
            return Document(id: id, title: object["title"] as? String ?? "", text: text)
        }
        let qs = try readJSONL(queries, what: "queries") { object, line in
            guard let id = idString(object["_id"]) else { throw EvaluationError.badLine(file: queries.path, line: line, reason: "missing \"_id\"") }
            guard let text = object["text"] as? String else {
                throw EvaluationError.badLine(file: queries.path, line: line, reason: "missing or non-string \"text\"")
            }
            return Query(id: id, text: text)
        }
        try checkUnique(documents.map(\.id), file: corpus.path, what: "document")
        try checkUnique(qs.map(\.id), file: queries.path, what: "query")
        return BEIRDataset(corpus: documents, queries: qs, qrels: try Qrels.load(qrels))
    }

    /// A folder holding `corpus.jsonl`, `queries.jsonl` and `qrels/test.tsv` (BEIR), or `qrels.tsv`.
    public static func load(directory: URL) throws -> BEIRDataset {
        let fm = FileManager.default
        let qrelsCandidates = ["qrels/test.tsv", "qrels.tsv", "qrels/dev.tsv"].map { directory.appendingPathComponent($0) }
        guard let qrels = qrelsCandidates.first(where: { fm.fileExists(atPath: $0.path) }) else {
            throw EvaluationError.missingFile(directory.appendingPathComponent("qrels/test.tsv").path + " (or qrels.tsv)")
        }
        return try load(corpus: directory.appendingPathComponent("corpus.jsonl"),
                        queries: directory.appendingPathComponent("queries.jsonl"), qrels: qrels)
    }

    /// BEIR ids are strings; a few data sets write numbers.
    static func idString(_ value: Any?) -> String? {
        if let s = value as? String { return s }
        if let n = value as? NSNumber { return n.stringValue }
        return nil
    }

    static func checkUnique(_ ids: [String], file: String, what: String) throws {
        var seen = Set<String>()
        for (i, id) in ids.enumerated() where !seen.insert(id).inserted {
            throw EvaluationError.badLine(file: file, line: i + 1, reason: "duplicate \(what) id \(id)")
        }
    }

    static func readJSONL<T>(_ url: URL, what: String, _ make: ([String: Any], Int) throws -> T) throws -> [T] {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw EvaluationError.missingFile(url.path) }
        var items: [T] = []
        var lineNumber = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
                throw EvaluationError.badLine(file: url.path, line: lineNumber, reason: "not a JSON object")
            }
            items.append(try make(object, lineNumber))
        }
        guard !items.isEmpty else { throw EvaluationError.empty(file: url.path, what: what) }
        return items
    }
}

/// Relevance judgements: query id -> document id -> graded relevance (>= 1: relevant; 0 or less: judged
/// not relevant, as trec_eval's default relevance level 1).
public struct Qrels: Sendable, Equatable {
    public var judgements: [String: [String: Int]]
    public init(_ judgements: [String: [String: Int]]) { self.judgements = judgements }

    /// TSV (or space separated) `query-id corpus-id score`; the header line (its score is not a number)
    /// is skipped; two columns mean relevance 1; four (TREC `qid 0 docid rel`) are read as TREC qrels.
    public static func load(_ url: URL) throws -> Qrels {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw EvaluationError.missingFile(url.path) }
        var judgements: [String: [String: Int]] = [:]
        var lineNumber = 0
        for raw in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let fields = raw.split(whereSeparator: { $0 == "\t" || $0 == " " || $0 == "\r" }).map(String.init)
            if fields.isEmpty { continue }
            let query: String, document: String, relevance: Int
            switch fields.count {
            case 2: (query, document, relevance) = (fields[0], fields[1], 1)
            case 3:
                guard let r = Int(fields[2]) ?? Double(fields[2]).map({ Int($0) }) else {
                    if lineNumber == 1 { continue }   // the header: query-id corpus-id score
                    throw EvaluationError.badLine(file: url.path, line: lineNumber, reason: "score \(fields[2].debugDescription) is not a number")
                }
                (query, document, relevance) = (fields[0], fields[1], r)
            case 4:
                guard let r = Int(fields[3]) else {
                    throw EvaluationError.badLine(file: url.path, line: lineNumber, reason: "relevance \(fields[3].debugDescription) is not an integer")
                }
                (query, document, relevance) = (fields[0], fields[2], r)
            default:
                throw EvaluationError.badLine(file: url.path, line: lineNumber,
                                              reason: "expected query-id, corpus-id and score separated by tabs, got \(fields.count) fields")
            }
            if lineNumber == 1, fields.count == 2, query == "query-id" { continue }
            judgements[query, default: [:]][document] = relevance
        }
        guard !judgements.isEmpty else { throw EvaluationError.empty(file: url.path, what: "judgements") }
        return Qrels(judgements)
    }
}
