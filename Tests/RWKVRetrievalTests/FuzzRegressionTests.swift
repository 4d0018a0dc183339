import Foundation
import Testing
import RWKVRetrieval
import RWKVTestSupport

/// The findings of `fuzz-collection` (Fuzz/Corpus/fuzz-collection/regression-*.bin) replayed in the test
/// suite, which CI always runs (the fuzz build itself is not in CI's budget): the same 12-document
/// collection, the same edits (6 bytes each: file, u32 offset, xor; the top bit of the file selector
/// truncates instead), then open, dense scan, BM25, a filtered list and `verify`. Each must work or
/// throw a `RetrievalError`, and no cosine may differ from the intact collection's.
@Suite struct FuzzRegressionTests {
    static let files = ["collection.sqlite", "segments/000001.emb", "segments/000001.states"]

    @Test func collectionFindingsStayFixed() throws {
        let corpus = packageRoot.appendingPathComponent("Fuzz/Corpus/fuzz-collection")
        let findings = try FileManager.default.contentsOfDirectory(atPath: corpus.path).filter { $0.hasPrefix("regression-") }.sorted()
        #expect(findings.count >= 3, "\(findings)")
        let dir = try TemporaryDirectory()
        let pristineURL = dir.path("pristine")
        let query: [Float]
        var scores: [String: Float] = [:]
        do {
            let c = try DocumentCollection.create(at: pristineURL, models: try Models.tiny)
            let words = ["rivers", "planets", "bananas", "networks", "mountains", "coffee"]
            try c.add((0..<12).map { Document(id: "d\($0)", text: "Document \($0) about \(words[$0 % words.count]) and \(words[($0 * 5) % words.count]).",
                                             metadata: #"{"n": \#($0)}"#) })
            query = try #require(c.embedding(id: "d0"))
            for (id, passage, score) in try c.nearest(to: query, k: 100, group: false) { scores["\(id)#\(passage)"] = score }
        }
        let pristine = try Self.files.map { try [UInt8](Data(contentsOf: pristineURL.appendingPathComponent($0))) }
        for name in findings {
            let input = try [UInt8](Data(contentsOf: corpus.appendingPathComponent(name)))
            var contents = pristine
            var i = 0
            while i + 6 <= input.count {
                let selector = input[i]
                let offset = Int(input[i + 1]) | Int(input[i + 2]) << 8 | Int(input[i + 3]) << 16 | Int(input[i + 4]) << 24
                let f = Int(selector & 0x7f) % Self.files.count
                if !contents[f].isEmpty {
                    let at = offset % contents[f].count
                    if selector & 0x80 != 0 { contents[f] = Array(contents[f].prefix(at)) } else { contents[f][at] ^= input[i + 5] == 0 ? 0xff : input[i + 5] }
                }
                i += 6
            }
            let caseURL = dir.path("case-\(name)")
            try FileManager.default.createDirectory(at: caseURL.appendingPathComponent("segments"), withIntermediateDirectories: true)
            for (f, bytes) in zip(Self.files, contents) { try Data(bytes).write(to: caseURL.appendingPathComponent(f)) }
            do {
                _ = try DocumentCollection.verify(at: caseURL)
                let c = try DocumentCollection.open(at: caseURL, models: nil)
                for (id, passage, score) in try c.nearest(to: query, k: 100, group: false) {
                    if let expected = scores["\(id)#\(passage)"] { #expect(abs(expected - score) <= 1e-4, "\(name): \(id)#\(passage)") }
                }
                _ = try c.search("rivers networks", options: .init(topK: 5, rerank: false, mode: .lexical))
                _ = try c.list(where: try MetadataFilter.parse(json: #"{"n": {"$gte": 3}}"#))
                _ = c.stats()
            } catch is RetrievalError {
            } catch {
                Issue.record("\(name): an untyped error: \(error)")
            }
        }
    }
}
