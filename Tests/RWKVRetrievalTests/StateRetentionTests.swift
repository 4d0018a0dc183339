import Foundation
import Testing
@testable import RWKVRetrieval
import RWKVTestSupport

/// A collection-wide policy for which passages keep a cached state (issue 11): the others are reranked
/// online, with the scores the cached states would give.
@Suite struct StateRetentionTests {
    @Test func parsesAndRefusesWithTheReason() throws {
        #expect(try StateRetention(parsing: "all") == .all)
        #expect(try StateRetention(parsing: "NONE") == .none)
        #expect(try StateRetention(parsing: "first:2") == .leading(2))
        #expect(StateRetention.leading(3).description == "first:3")
        for (bad, reason) in [("first:0", ">= 1"), ("first:x", ">= 1"), ("some", "must be all, none or first:N"), ("", "must be all")] {
            #expect { try StateRetention(parsing: bad) } throws: { "\($0)".contains(reason) }
        }
        let json = try JSONEncoder().encode([StateRetention.leading(4)])
        #expect(String(decoding: json, as: UTF8.self) == #"["first:4"]"#)
        #expect(try JSONDecoder().decode([StateRetention].self, from: json) == [.leading(4)])
    }

    /// Long documents (several passages each) under `first:1`: only each document's first passage has
    /// a state; a search over every passage reranks the rest online with the same logits as from states.
    @Test func firstPassagesKeepStatesTheRestRerankOnline() throws {
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        let c = try DocumentCollection.create(at: dir.path("c"), models: models,
                                              configuration: .init(statePrecision: .fp32, passages: .init(maxTokens: 40, overlapTokens: 8)))
        #expect(c.stateRetention == .all)
        try c.setStateRetention(.leading(1))
        let docs = (0..<4).map { d in
            Document(id: "doc\(d)", text: (0..<6).map { "Paragraph \($0) of document \(d) about topic \($0 + d) and more words here." }.joined(separator: "\n\n"))
        }
        #expect(try c.add(docs).map(\.outcome) == Array(repeating: .added, count: 4))
        var total = 0
        for d in docs {
            let passages = c.passages(of: d.id)
            #expect(passages.count > 1, "\(d.id): \(passages.count) passages")
            #expect(passages.map(\.hasState) == passages.map { $0.ordinal == 0 }, "\(d.id)")
            total += passages.count
        }
        let s = c.stats()
        #expect(s.passagesWithState == 4 && s.passages == total && s.stateRetention == .leading(1))
        let result = try c.search("topic 3", options: .init(topK: total, candidates: total, mode: .dense, group: false))
        #expect(result.hits.count == total)
        #expect(result.onlineFallbacks == total - 4)
        let online = try models.reranker.rerankOnline(query: "topic 3", documents: result.hits.map(\.text))
        for (h, o) in zip(result.hits, online) {
            #expect(h.rerankMode == (h.passage == 0 ? .offline : .online), "\(h.id) #\(h.passage)")
            #expect(abs(h.rerank!.logit - o.logit) <= 1e-4)
        }
        // The retention persists (a reader sees it); re-adding the same documents under another one recomputes them.
        #expect(try DocumentCollection.open(at: dir.path("c"), models: models).stateRetention == .leading(1))
        #expect(try c.add(docs).map(\.outcome) == Array(repeating: .unchanged, count: 4))
        try c.setStateRetention(.all)
        #expect(try c.add(docs).map(\.outcome) == Array(repeating: .updated, count: 4))
        #expect(c.stats().passagesWithState == total)
        // An add that stores no states overrides the retention for its documents.
        #expect(try c.add(Array(docs.prefix(1)), options: .init(storeStates: false)).map(\.outcome) == [.updated])
        #expect(c.passages(of: "doc0").allSatisfy { !$0.hasState })
        try c.setStateRetention(.none)
        #expect(try c.add(docs).map(\.outcome) == [.unchanged, .updated, .updated, .updated])
        #expect(c.stats().passagesWithState == 0)
        let report = try DocumentCollection.verify(at: dir.path("c"))
        #expect(report.damage.isEmpty && report.sqlite.isEmpty, "\(report.damage) \(report.sqlite)")
    }
}
