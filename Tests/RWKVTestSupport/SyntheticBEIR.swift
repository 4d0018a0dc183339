import Foundation

/// A small BEIR-layout data set made by the tests: documents of common words, each query naming one
/// rare word that only its relevant documents (graded 1 or 2) contain, so a term-matching ranking scores
/// far above chance while an unrelated one does not.
public struct SyntheticBEIR {
    public var corpus: [(id: String, title: String, text: String)] = []
    public var queries: [(id: String, text: String)] = []
    public var qrels: [(query: String, document: String, score: Int)] = []

    static let common = ["the", "river", "market", "city", "report", "green", "stone", "music", "winter", "paper",
                         "garden", "train", "light", "water", "history", "table", "story", "field", "morning", "bridge"]

    public init(documents: Int = 300, queries queryCount: Int = 60, seed: UInt64 = 17) {
        var state = seed
        func next() -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) >> 1)
        }
        var texts = (0..<documents).map { _ in (0..<12).map { _ in Self.common[next() % Self.common.count] } }
        for q in 0..<queryCount {
            let rare = "zq\(q)x" + String(UnicodeScalar(UInt8(97 + q % 26)))   // never a common word
            let relevant = Set((0..<(1 + next() % 3)).map { _ in next() % documents })
            for d in relevant.sorted() {
                texts[d].insert(rare, at: next() % texts[d].count)
                qrels.append((query: "q\(q)", document: "d\(d)", score: 1 + next() % 2))
            }
            // A judged non-relevant document too (relevance 0), as BEIR qrels sometimes have.
            if q % 4 == 0 { qrels.append((query: "q\(q)", document: "d\((q * 7) % documents)", score: 0)) }
            queries.append((id: "q\(q)", text: "what about \(rare) in the city"))
        }
        queries.append((id: "unjudged", text: "a query without judgements is not evaluated"))
        corpus = texts.enumerated().map { (id: "d\($0.offset)", title: $0.offset % 3 == 0 ? "Title \($0.offset)" : "", text: $0.element.joined(separator: " ")) }
    }

    /// Writes corpus.jsonl, queries.jsonl and qrels/test.tsv into `directory`.
    public func write(to directory: URL) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory.appendingPathComponent("qrels"), withIntermediateDirectories: true)
        func json(_ o: [String: String]) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self)
        }
        let corpusLines = try corpus.map { try json(["_id": $0.id, "title": $0.title, "text": $0.text]) }
        try Data((corpusLines.joined(separator: "\n") + "\n").utf8).write(to: directory.appendingPathComponent("corpus.jsonl"))
        let queryLines = try queries.map { try json(["_id": $0.id, "text": $0.text]) }
        try Data((queryLines.joined(separator: "\n") + "\n").utf8).write(to: directory.appendingPathComponent("queries.jsonl"))
        let qrelLines = ["query-id\tcorpus-id\tscore"] + qrels.map { "\($0.query)\t\($0.document)\t\($0.score)" }
        try Data((qrelLines.joined(separator: "\n") + "\n").utf8).write(to: directory.appendingPathComponent("qrels/test.tsv"))
    }
}
