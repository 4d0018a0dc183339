import Foundation
import RWKVServer
import RWKVTestSupport
import Testing

/// The version-2 collection fields and routes over a real loopback server: `mode`, `filter` (and a bad
/// one), `group`, passage offsets, `/rerank`, `/compact`, delete by filter and the list filter.
@Suite(.serialized) struct CollectionSearchRouteTests {
    /// A document of several passages (the default budget is 512 tokens): 40 numbered paragraphs, the rare
    /// word in paragraph 31, multi-byte characters in every paragraph so offsets are bytes, not characters.
    static let longText = (0..<40).map { i in
        "Paragraph \(i) — café, naïve, 日本語, and plain words about rivers, stones and gardens number \(i)."
            + (i == 31 ? " A xylophonist played here." : "")
    }.joined(separator: "\n\n")

    nonisolated(unsafe) static let documents: [[String: Any]] = [  // read only
        ["id": "long", "text": longText, "metadata": ["lang": "en", "year": 2024, "tags": ["a", "b"]]],
        ["id": "fr", "text": "Le café est noir et la rivière est longue.", "metadata": ["lang": "fr", "year": 2020]],
        ["id": "de", "text": "Der Garten liegt hinter dem Fluss.", "metadata": ["lang": "de", "year": 2023, "tags": ["b"]]],
        ["id": "es", "text": "El jardín está junto al río y las piedras.", "metadata": ["lang": "es", "year": 2019]],
    ]

    /// A server with a collections root and the collection `docs` holding `documents`.
    static func serverWithDocuments(_ root: URL) async throws -> TestServer {
        let server = try await TestServer.start { $0.collectionsRoot = root }
        let created = try await server.post("/collections", json: ["name": "docs"])
        #expect(created.status == .created, "\(created.text)")
        let added = try await server.post("/collections/docs/documents", json: ["documents": documents])
        #expect(added.status == .ok, "\(added.text)")
        return server
    }

    static func object(_ reply: TestServer.Reply) throws -> [String: Any] {
        try #require(try reply.json() as? [String: Any], "\(reply.text)")
    }

    static func hits(_ reply: TestServer.Reply) throws -> [[String: Any]] {
        try #require(try object(reply)["hits"] as? [[String: Any]], "\(reply.text)")
    }

    static func double(_ any: Any?) -> Double? { (any as? NSNumber)?.doubleValue }

    /// The search body with `fields` added.
    func search(_ server: TestServer, _ query: String, _ fields: [String: Any]) async throws -> TestServer.Reply {
        var body: [String: Any] = ["query": query]
        for (k, v) in fields { body[k] = v }
        return try await server.post("/collections/docs/search", json: body)
    }

    @Test func modesGroupingOffsetsAndFilters() async throws {
        let temporary = try TemporaryDirectory(), root = temporary.url
        defer { temporary.cleanUp() }
        let server = try await Self.serverWithDocuments(root)
        let info = try Self.object(try await server.get("/collections/docs"))
        let passages = try #require(info["passages"] as? Int)
        #expect(passages >= 5, "the long document should be split: \(passages) passages")
        let longUTF8 = Array(Self.longText.utf8)

        // Dense, passages (group false): every passage once, by cosine, offsets cut the stored text exactly.
        let dense = try Self.hits(try await search(server, "rivers and gardens", ["mode": "dense", "group": false, "rerank": false, "top_k": 100]))
        #expect(dense.count == passages)
        let cosines = dense.compactMap { Self.double($0["embedding_score"]) }
        #expect(cosines.count == passages && cosines == cosines.sorted(by: >))
        #expect(dense.allSatisfy { $0["lexical_score"] == nil && $0["fused_score"] == nil })
        let longHits = dense.filter { $0["id"] as? String == "long" }
        #expect(Set(longHits.compactMap { $0["passage"] as? Int }) == Set(0..<(passages - 3)))
        for h in dense {
            let start = try #require(h["start"] as? Int), end = try #require(h["end"] as? Int)
            let text = try #require(h["text"] as? String)
            #expect(h["passage_id"] is Int)
            if h["id"] as? String == "long" {
                #expect(start < end && end <= longUTF8.count)
                #expect(text == String(decoding: longUTF8[start..<end], as: UTF8.self), "passage \(h["passage"] ?? "?")")
            } else {
                let source = try #require(Self.documents.first { $0["id"] as? String == h["id"] as? String }?["text"] as? String)
                #expect(start == 0 && end == source.utf8.count && text == source)
            }
        }
        #expect(longHits.map { $0["start"] as! Int }.min() == 0 && longHits.map { $0["end"] as! Int }.max() == longUTF8.count)

        // Grouped (default): one hit per document, its best passage.
        let grouped = try Self.hits(try await search(server, "rivers and gardens", ["mode": "dense", "rerank": false, "top_k": 10]))
        #expect(grouped.compactMap { $0["id"] as? String }.sorted() == ["de", "es", "fr", "long"])
        let bestLong = longHits.first  // dense is sorted: the first "long" passage is its best
        #expect(grouped.first { $0["id"] as? String == "long" }?["passage_id"] as? Int == bestLong?["passage_id"] as? Int)

        // Lexical: only the passage with the rare word, BM25 score, no cosine.
        let lexical = try Self.hits(try await search(server, "xylophonist", ["mode": "lexical", "group": false, "rerank": false]))
        #expect(lexical.count == 1)
        #expect(lexical.first?["id"] as? String == "long" && (lexical.first?["text"] as? String)?.contains("xylophonist") == true)
        #expect(Self.double(lexical.first?["lexical_score"]).map { $0 > 0 } == true && lexical.first?["embedding_score"] == nil)

        // Hybrid: the lexical match comes first, with its fused and both stage scores.
        let hybridReply = try await search(server, "xylophonist", ["mode": "hybrid", "group": false, "rerank": false, "top_k": 3])
        let hybrid = try Self.hits(hybridReply)
        #expect(hybrid.count == 3)
        #expect(hybrid.first?["passage_id"] as? Int == lexical.first?["passage_id"] as? Int)
        #expect(Self.double(hybrid.first?["fused_score"]) != nil && Self.double(hybrid.first?["lexical_score"]) != nil
                && Self.double(hybrid.first?["embedding_score"]) != nil)
        let timings = try #require(try Self.object(hybridReply)["timings"] as? [String: Any])
        for key in ["filter_ms", "retrieval_ms", "lexical_ms", "fusion_ms", "query_embedding_ms", "total_ms"] {
            #expect(Self.double(timings[key]) != nil, "\(key)")
        }
        #expect(try Self.object(hybridReply)["mode"] as? String == "hybrid")

        // Filters: exact (only matching documents, all of them), on numbers, lists and absent keys.
        let recentReply = try await search(server, "rivers", ["mode": "dense", "rerank": false, "filter": ["year": ["$gte": 2023]]])
        #expect(try Self.hits(recentReply).compactMap { $0["id"] as? String }.sorted() == ["de", "long"])
        #expect(try Self.object(recentReply)["matching_passages"] as? Int == passages - 2)
        let tagged = try Self.hits(try await search(server, "rivers", ["mode": "lexical", "rerank": false, "group": false,
                                                                       "filter": ["tags": ["$contains": "b"], "lang": ["$ne": "en"]]]))
        #expect(Set(tagged.compactMap { $0["id"] as? String }).isSubset(of: ["de"]))
        let french = try Self.hits(try await search(server, "café", ["filter": ["lang": "fr"], "top_k": 5]))
        #expect(french.compactMap { $0["id"] as? String } == ["fr"])
        #expect(french.first?["rerank_mode"] as? String == "offline" && Self.double(french.first?["rerank_logit"]) != nil)
        #expect((french.first?["metadata"] as? [String: Any])?["lang"] as? String == "fr")
        let none = try await search(server, "rivers", ["filter": ["missing": 1]])
        #expect(none.status == .ok)
        #expect(try Self.hits(none).isEmpty)

        // A bad filter: 400 naming the operator or the path at fault; a bad mode: 422.
        for (filter, named) in [(["year": ["$between": [1, 2]]], "$between"), (["$and": 5], "$and"), (["year": ["$gt": "soon"]], "year")] as [([String: Any], String)] {
            let bad = try await search(server, "rivers", ["filter": filter])
            #expect(bad.status == .badRequest, "\(filter): \(bad.text)")
            #expect(bad.text.contains(named), "\(filter): \(bad.text)")
        }
        let badMode = try await search(server, "rivers", ["mode": "fuzzy"])
        #expect(badMode.status == .unprocessableEntity && badMode.text.contains("mode"), "\(badMode.text)")
        try await server.stop()
    }

    @Test func rerankCompactDeleteAndListByFilter() async throws {
        let temporary = try TemporaryDirectory(), root = temporary.url
        defer { temporary.cleanUp() }
        let server = try await Self.serverWithDocuments(root)

        // /rerank by passage ids gives the logits search gave those passages; by document ids, the best passage's.
        let searched = try Self.hits(try await search(server, "rivers and gardens", ["mode": "dense", "group": false, "top_k": 100, "candidates": 100]))
        #expect(searched.allSatisfy { $0["rerank_mode"] as? String == "offline" })
        let ids = searched.compactMap { $0["passage_id"] as? Int }
        let byPassage = try await server.post("/collections/docs/rerank", json: ["query": "rivers and gardens", "passages": ids + [999_999]])
        #expect(byPassage.status == .ok, "\(byPassage.text)")
        let passageResults = try #require(try Self.object(byPassage)["results"] as? [[String: Any]])
        #expect(passageResults.count == ids.count + 1)
        for (hit, r) in zip(searched, passageResults) {
            #expect(r["passage_id"] as? Int == hit["passage_id"] as? Int)
            let a = try #require(Self.double(r["logit"])), b = try #require(Self.double(hit["rerank_logit"]))
            #expect(abs(a - b) <= 1e-5, "passage \(r["passage_id"] ?? "?"): \(a) vs \(b)")
            #expect(r["rerank_mode"] as? String == "offline")
        }
        #expect(passageResults.last?["score"] == nil && passageResults.last?["logit"] == nil, "an unknown passage has no score")
        let byDocument = try await server.post("/collections/docs/rerank", json: ["query": "rivers and gardens", "ids": ["fr", "long", "nope"]])
        let documentResults = try #require(try Self.object(byDocument)["results"] as? [[String: Any]])
        #expect(documentResults.compactMap { $0["id"] as? String } == ["fr", "long", "nope"])
        let longBest = searched.filter { $0["id"] as? String == "long" }.max { Self.double($0["rerank_logit"])! < Self.double($1["rerank_logit"])! }
        #expect(documentResults[1]["passage_id"] as? Int == longBest?["passage_id"] as? Int)
        #expect(Self.double(documentResults[1]["logit"]).map { abs($0 - Self.double(longBest?["rerank_logit"])!) <= 1e-5 } == true)
        #expect(documentResults[2]["logit"] == nil && documentResults[2]["passage_id"] == nil)
        for body in [["query": "q"], ["query": "q", "ids": ["fr"], "passages": [1]], ["query": "", "ids": ["fr"]]] as [[String: Any]] {
            let bad = try await server.post("/collections/docs/rerank", json: body)
            #expect(bad.status == .unprocessableEntity, "\(body): \(bad.text)")
        }

        // The list filter (a query parameter) and delete by filter.
        func listed(_ filter: String?) async throws -> [String] {
            let path = "/collections/docs/documents" + (filter.map { "?filter=" + $0.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! } ?? "")
            let reply = try await server.get(path)
            #expect(reply.status == .ok, "\(reply.text)")
            return try #require(try Self.object(reply)["documents"] as? [[String: Any]]).compactMap { $0["id"] as? String }
        }
        #expect(try await listed(nil) == ["de", "es", "fr", "long"])
        #expect(try await listed(#"{"year": {"$lt": 2021}}"#) == ["es", "fr"])
        #expect(try await listed(#"{"tags": {"$contains": "b"}}"#) == ["de", "long"])
        let badList = try await server.get("/collections/docs/documents?filter=" + #"{"year": {"$near": 1}}"#.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)
        #expect(badList.status == .badRequest && badList.text.contains("$near"), "\(badList.text)")
        let deleted = try await server.post("/collections/docs/documents/delete", json: ["filter": ["year": ["$lt": 2021]]])
        #expect(deleted.status == .ok, "\(deleted.text)")
        #expect((try Self.object(deleted)["deleted"] as? [String])?.sorted() == ["es", "fr"])
        #expect(try await listed(nil) == ["de", "long"])
        let badDelete = try await server.post("/collections/docs/documents/delete", json: ["filter": ["$or": "x"]])
        #expect(badDelete.status == .badRequest && badDelete.text.contains("$or"), "\(badDelete.text)")
        #expect(try await listed(nil) == ["de", "long"], "a refused delete removes nothing")

        // Compaction reclaims the dead bytes; search answers the same after it.
        let before = try Self.object(try await server.get("/collections/docs"))
        #expect((before["dead_bytes"] as? Int ?? 0) > 0, "\(before)")
        let livePassages = try #require(before["passages"] as? Int)
        let query: [String: Any] = ["mode": "hybrid", "group": false, "top_k": 100]
        let expected = try Self.hits(try await search(server, "gardens xylophonist", query))
        let compacted = try await server.post("/collections/docs/compact", body: Data())
        #expect(compacted.status == .ok, "\(compacted.text)")
        let report = try Self.object(compacted)
        #expect(report["passages_moved"] as? Int == livePassages)
        #expect((report["bytes_after"] as? Int ?? .max) < (report["bytes_before"] as? Int ?? 0))
        #expect(report["bytes_copied"] as? Int ?? 0 > 0 && Self.double(report["seconds"]) != nil)
        #expect(try Self.object(try await server.get("/collections/docs"))["dead_bytes"] as? Int == 0)
        let after = try Self.hits(try await search(server, "gardens xylophonist", query))
        #expect(after.compactMap { $0["passage_id"] as? Int } == expected.compactMap { $0["passage_id"] as? Int })
        #expect(after.compactMap { Self.double($0["rerank_logit"]) } == expected.compactMap { Self.double($0["rerank_logit"]) })
        let nothing = try Self.object(try await server.post("/collections/docs/compact", json: [String: Any]()))
        #expect(nothing["passages_moved"] as? Int == 0, "no dead bytes left: nothing to move")
        let everything = try Self.object(try await server.post("/collections/docs/compact", json: ["all": true]))
        #expect(everything["passages_moved"] as? Int == livePassages)
        let badCompact = try await server.post("/collections/docs/compact", body: Data("all".utf8))
        #expect(badCompact.status == .badRequest, "\(badCompact.text)")
        try await server.stop()
    }
}
