import Foundation
import EmbeddingRWKV
import GRDB
import RWKVKernels

extension DocumentCollection {
    /// The best documents (or passages, `group: false`) for a query: the metadata filter (exact: only
    /// matching passages compete), then the mode's candidate lists (dense: exact cosine over the
    /// passage embeddings; lexical: BM25; hybrid: both, fused by reciprocal rank, k = 60), then (unless
    /// `rerank` is off) offline reranking of the fused candidates from their cached states, then the best
    /// passage per document.
    public func search(_ query: String, options: SearchOptions = SearchOptions()) throws -> SearchResult {
        let needsModel = options.mode != .lexical || options.rerank
        if needsModel && models == nil { throw RetrievalError.modelsRequired("search embeds the query and reranks") }
        let clock = ContinuousClock()
        let start = clock.now
        var timings = SearchTimings()
        try refresh()
        var mark = clock.now
        func lap(_ field: WritableKeyPath<SearchTimings, Double>) {
            let now = clock.now
            timings[keyPath: field] += seconds(now - mark)
            mark = now
        }
        // 1. The filter: the passages that may be returned.
        let allowed = try options.filter.flatMap { try matchingPassages($0) }
        let (documentCount, passageTotal) = rw.read { (table.byDocument.count, table.count) }
        let matching = allowed?.count ?? passageTotal
        // Grouping stops widening once the candidates span this many documents.
        let wantedDocuments = rw.read { allowed.map { documents(in: $0, upTo: options.topK) } ?? min(options.topK, table.byDocument.count) }
        lap(\.filter)
        // 2. The query embedding.
        var queryVector: [Float]?
        if options.mode != .lexical, let models {
            let ws = pool.take()
            defer { pool.give(ws) }
            let embedder = Embedder(model: models.model, tokenizer: models.tokenizer, task: .retrieval,
                                    inputProtocol: manifest.protocolValue, normalize: true)
            queryVector = try embedder.embedQueries([query], instruction: options.instruction, workspace: ws)[0]
        }
        lap(\.queryEmbedding)
        // 3. Candidate lists (widened until they span top_k documents when grouping).
        var n = max(1, options.rerank ? max(options.candidates, options.topK) : options.topK)
        var dense: [(id: Int64, score: Float)] = []
        var lexical: [(id: Int64, score: Double)] = []
        var fused: [(id: Int64, score: Double)] = []
        var densePath: DensePath?
        while true {
            if let queryVector {
                (dense, densePath) = try denseSearch(query: queryVector, k: n, allowed: allowed, exact: options.exact)
                lap(\.retrieval)
            }
            if options.mode != .dense {
                lexical = try lexicalCandidates(query, k: n, allowed: allowed)
                lap(\.lexical)
            }
            switch options.mode {
            case .dense: fused = dense.map { ($0.id, Double($0.score)) }
            case .lexical: fused = lexical
            case .hybrid: fused = Self.fuse(dense: dense.map(\.id), lexical: lexical.map(\.id), limit: n)
            }
            lap(\.fusion)
            let documents = rw.read { Set(fused.compactMap { table.byID[$0.id]?.document }) }
            if !options.group || documents.count >= wantedDocuments || n >= matching { break }
            n = min(matching, n * 4)
        }
        // 4. Hits with every stage's score.
        let denseScores = Dictionary(dense.map { ($0.id, $0.score) }, uniquingKeysWith: { a, _ in a })
        let lexicalScores = Dictionary(lexical.map { ($0.id, $0.score) }, uniquingKeysWith: { a, _ in a })
        var hits: [SearchHit] = rw.read {
            fused.compactMap { c in
                guard let p = table.byID[c.id] else { return nil }
                var score = denseScores[c.id]
                if score == nil, let queryVector, let row = embeddingRow(p) { score = zip(row, queryVector).reduce(Float(0)) { $0 + $1.0 * $1.1 } }
                return SearchHit(id: p.document, passageID: p.id, passage: p.ordinal, start: p.start, end: p.end, text: "",
                                 metadata: nil, embeddingScore: score, lexicalScore: lexicalScores[c.id],
                                 fusedScore: options.mode == .hybrid ? c.score : nil)
            }
        }
        var online = 0
        var damaged: [Int64] = []
        let reranked = hits.count
        if options.rerank && !hits.isEmpty {
            let r = try rerank(query, passages: hits.map(\.passageID), batchSize: options.rerankBatch)
            for (i, s) in r.scores.enumerated() {
                hits[i].rerank = s?.score
                hits[i].rerankMode = s?.mode
            }
            online = r.online
            damaged = r.damaged
            timings.stateLoad = r.stateLoadSeconds
            timings.rerank = r.rerankSeconds
            hits = hits.filter { $0.rerank != nil }
            // Stable: equal logits keep the fused order.
            hits = hits.enumerated().sorted { a, b in
                let x = a.element.rerank!.logit, y = b.element.rerank!.logit
                return x != y ? x > y : a.offset < b.offset
            }.map(\.element)
            mark = clock.now
        }
        // 5. The best passage per document.
        if options.group {
            var seen = Set<String>()
            hits = hits.filter { seen.insert($0.id).inserted }
        }
        hits = Array(hits.prefix(options.topK))
        let texts = try self.texts(of: Set(hits.map(\.id)))
        for i in hits.indices {
            guard let t = texts[hits[i].id] else { continue }
            let utf8 = t.text.utf8
            let lo = utf8.index(utf8.startIndex, offsetBy: min(hits[i].start, utf8.count))
            let hi = utf8.index(utf8.startIndex, offsetBy: min(hits[i].end, utf8.count))
            hits[i].text = String(decoding: Array(utf8[lo..<hi]), as: UTF8.self)
            hits[i].metadata = t.metadata
        }
        timings.total = seconds(clock.now - start)
        return SearchResult(hits: hits, timings: timings, documentCount: documentCount, passageCount: passageTotal,
                            matchingPassages: matching, candidatesReranked: options.rerank ? reranked : 0,
                            onlineFallbacks: online, damaged: (damaged + rw.read { Array(table.damaged.keys) }).sorted(), densePath: densePath)
    }

    /// Reciprocal rank fusion of the two lists (k = 60), the first `limit`. Equal fused scores (a passage
    /// first in one list only vs another first in the other) go to the one with a lexical match: an exact
    /// term match is the sharper evidence of the two.
    static func fuse(dense: [Int64], lexical: [Int64], limit: Int) -> [(id: Int64, score: Double)] {
        let fused = RankFusion.reciprocalRank([dense, lexical], k: 60)
        let lexicalRank = Dictionary(lexical.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })
        let denseRank = Dictionary(dense.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })
        let ordered = fused.sorted { a, b in
            if a.score != b.score { return a.score > b.score }
            let la = lexicalRank[a.id] ?? Int.max, lb = lexicalRank[b.id] ?? Int.max
            if la != lb { return la < lb }
            return (denseRank[a.id] ?? Int.max) < (denseRank[b.id] ?? Int.max)
        }
        return Array(ordered.prefix(limit))
    }

    /// The passages of the documents whose metadata matches (evaluated by SQLite, values bound; a filter
    /// searched again at the same database generation comes from `filterMasks`), or nil when that is
    /// every passage of this process's view (same generation, same count: the filter restricts nothing,
    /// so the unfiltered paths run, e.g. HNSW instead of its filtered widening).
    func matchingPassages(_ filter: MetadataFilter) throws -> PassageMask? {
        let condition = passageFilterCondition(filter)
        let (mask, generation): (PassageMask, Int64) = try readDatabase { db in
            let generation = try Int64.fetchOne(db, sql: "SELECT generation FROM changes") ?? -1
            let key = FilterMaskCache.Key(sql: condition.sql, arguments: condition.arguments, generation: generation)
            if let cached = filterMasks.mask(for: key) { return (cached, generation) }
            let mask = PassageMask(ids: try Int64.fetchAll(db, sql: "SELECT p.id FROM passages p WHERE \(condition.sql)",
                                                           arguments: StatementArguments(condition.arguments)))
            filterMasks.insert(mask, for: key)
            return (mask, generation)
        }
        let everything = rw.read { generation == table.generation && mask.count == table.count + table.damaged.count }
        return everything ? nil : mask
    }

    /// Caller holds `rw` (read). How many documents the passages of `mask` belong to, counting up to `limit`.
    func documents(in mask: PassageMask, upTo limit: Int) -> Int {
        var seen = Set<String>()
        for id in mask {
            guard seen.count < limit else { break }
            if let p = table.byID[id] { seen.insert(p.document) }
        }
        return seen.count
    }

    /// The exact top `k` passages by cosine, among `allowed` (all when nil): a masked scan of every
    /// embedding segment, or for a small allowed set (under 1/8 of the passages) a gather of its rows.
    func denseCandidates(query: [Float], k: Int, allowed: PassageMask?) -> [(id: Int64, score: Float)] {
        rw.read {
            var all: [(id: Int64, score: Float)] = []
            if let allowed, allowed.count * 8 < table.count {
                for id in allowed {
                    guard let p = table.byID[id], let base = embSegments[p.embSegment]?.base else { continue }
                    let row = (base + SegmentFile.headerSize + p.embRow * dimension * 4).assumingMemoryBound(to: Float.self)
                    all.append((id, Self.dot(row, query)))
                }
            } else {
                for segID in embSegments.keys.sorted() {
                    guard let seg = embSegments[segID], let base = seg.base else { continue }
                    let owners = table.rowOwners[segID] ?? []
                    let rows = min(owners.count, (seg.committedBytes - SegmentFile.headerSize) / (dimension * 4))
                    guard rows > 0 else { continue }
                    let matrix = (base + SegmentFile.headerSize).assumingMemoryBound(to: Float.self)
                    let scores = VectorSearch.scores(matrix: matrix, rows: rows, dimension: dimension, query: query)
                    let top = VectorSearch.topK(scores, k: k) { r in
                        let id = owners[r]
                        return id != 0 && (allowed?.contains(id) ?? true)
                    }
                    all += top.map { (owners[$0.row], $0.score) }
                }
            }
            // Equal scores by document and passage (as the lexical list), not by passage id.
            all.sort { a, b in
                guard a.score == b.score, let p = table.byID[a.id], let q = table.byID[b.id] else { return a.score > b.score }
                return (p.document, p.ordinal) < (q.document, q.ordinal)
            }
            return Array(all.prefix(k))
        }
    }

    static func dot(_ a: UnsafePointer<Float>, _ b: [Float]) -> Float {
        b.withUnsafeBufferPointer { q in
            var acc = SIMD8<Float>()
            var i = 0
            let n = q.count
            while i + 8 <= n {
                acc += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(q.baseAddress! + i).loadUnaligned(as: SIMD8<Float>.self)
                i += 8
            }
            var s = acc.sum()
            while i < n { s += a[i] * q[i]; i += 1 }
            return s
        }
    }

    /// BM25 top `k` passages among `allowed` (all when nil): FTS5 ranks the matches (the query becomes a
    /// safe MATCH expression, bound as a parameter) and the rows are read in rank order until `k` allowed,
    /// live ones are found. Scores: -bm25 (higher is better). (The filter as an `rowid IN (subquery)`
    /// constraint inside the FTS query was measured 50-1000x slower than this at 4000 passages.)
    /// Equal scores are ordered by document and passage ordinal, not by passage id, so a shard, a merge or
    /// a compaction of the same documents ranks them the same (issue 14): rows tied with the k-th are read too.
    func lexicalCandidates(_ query: String, k: Int, allowed: PassageMask?) throws -> [(id: Int64, score: Double)] {
        guard k > 0, let match = LexicalText.matchExpression(forQuery: query) else { return [] }
        return try readDatabase { db in
            var out: [(id: Int64, score: Double)] = []
            let sql = "SELECT rowid, bm25(passages_fts) FROM passages_fts WHERE passages_fts MATCH ? ORDER BY bm25(passages_fts)"
            let rows = try Row.fetchCursor(db, sql: sql, arguments: [match])
            var done = false
            while !done && (out.count < k || out.last?.score == out[k - 1].score) {
                // Rank-ordered chunks, each checked against the filter and the live view under one read lock.
                var chunk: [(id: Int64, score: Double)] = []
                while chunk.count < max(64, 2 * k) {
                    guard let row = try rows.next() else { done = true; break }
                    chunk.append((try row.decode(Int64.self, atIndex: 0), -(try row.decode(Double.self, atIndex: 1))))
                }
                out += rw.read { chunk.filter { allowed?.contains($0.id) ?? (table.byID[$0.id] != nil) } }
            }
            return rw.read {
                out.sorted { a, b in
                    if a.score != b.score { return a.score > b.score }
                    guard let p = table.byID[a.id], let q = table.byID[b.id] else { return a.id < b.id }
                    return (p.document, p.ordinal) < (q.document, q.ordinal)
                }.prefix(k).map { $0 }
            }
        }
    }

    /// The scan of the retrieval stage alone (top `k` passages by cosine, best per document unless
    /// `group` is false) for a given query vector, among the documents matching `filter`.
    public func nearest(to vector: [Float], k: Int, filter: MetadataFilter? = nil, group: Bool = true,
                        exact: Bool = false) throws -> [(id: String, passage: Int, score: Float)] {
        try nearestWithPath(to: vector, k: k, filter: filter, group: group, exact: exact).hits
    }

    /// `nearest`, and the path the dense stage took.
    public func nearestWithPath(to vector: [Float], k: Int, filter: MetadataFilter? = nil, group: Bool = true,
                                exact: Bool = false) throws -> (hits: [(id: String, passage: Int, score: Float)], path: DensePath) {
        try refresh()
        let allowed = try filter.flatMap { try matchingPassages($0) }
        var n = k
        let total = allowed?.count ?? rw.read { table.count }
        while true {
            let (found, path) = try denseSearch(query: vector, k: n, allowed: allowed, exact: exact)
            var out: [(id: String, passage: Int, score: Float)] = rw.read {
                found.compactMap { c in table.byID[c.id].map { ($0.document, $0.ordinal, c.score) } }
            }
            if group {
                var seen = Set<String>()
                out = out.filter { seen.insert($0.id).inserted }
            }
            if out.count >= k || n >= total { return (Array(out.prefix(k)), path) }
            n = min(total, n * 4)
        }
    }

    /// Reranker scores of one query against stored documents, in the order of `ids`: every passage of a
    /// document is scored (offline from its cached state, online for passages without one) and the best
    /// is the document's; nil for ids not in the collection.
    public func rerank(_ query: String, ids: [String], batchSize: Int = 16) throws -> RerankResult {
        try refresh()
        let groups: [[Int64]] = rw.read { ids.map { table.byDocument[$0] ?? [] } }
        let flat = groups.flatMap { $0 }
        let r = try rerank(query, passages: flat, batchSize: batchSize)
        var result = RerankResult(scores: [], online: r.online, stateLoadSeconds: r.stateLoadSeconds,
                                  rerankSeconds: r.rerankSeconds, damaged: r.damaged)
        var i = 0
        for g in groups {
            var best: ((score: RerankScore, mode: SearchHit.RerankMode), Int64)?
            for pid in g {
                if let s = r.scores[i], best == nil || s.score.logit > best!.0.score.logit { best = (s, pid) }
                i += 1
            }
            result.scores.append(best?.0)
            result.passages.append(best?.1)
        }
        return result
    }

    /// Reranker scores of one query against stored passages (by passage id), in order: offline from the
    /// cached states (decoded `batchSize` at a time, each checked against its CRC-32C), online (the whole
    /// template over the passage text) for passages without a state; nil for unknown or damaged ones.
    public func rerank(_ query: String, passages ids: [Int64], batchSize: Int = 16) throws -> RerankResult {
        guard let models else { throw RetrievalError.modelsRequired("reranking runs the model") }
        let clock = ContinuousClock()
        let start = clock.now
        let ws = pool.take()
        defer { pool.give(ws) }
        var result = RerankResult(scores: Array(repeating: nil, count: ids.count), online: 0, stateLoadSeconds: 0, rerankSeconds: 0)
        let queryTokens = models.reranker.queryTokens(query)
        var offline: [Int] = [], fallback: [Int] = []
        rw.read {
            for (i, id) in ids.enumerated() {
                guard let p = table.byID[id] else { continue }
                if p.hasState { offline.append(i) } else { fallback.append(i) }
            }
        }
        let step = max(1, batchSize)
        for chunkStart in stride(from: 0, to: offline.count, by: step) {
            let chunk = Array(offline[chunkStart..<min(offline.count, chunkStart + step)])
            let l0 = clock.now
            let decoded: [(Int, RWKVState?, Bool)] = rw.read {
                chunk.map { i in
                    guard let p = table.byID[ids[i]] else { return (i, nil, false) }
                    let s = decodeState(p)
                    return (i, s, s == nil)
                }
            }
            result.stateLoadSeconds += seconds(clock.now - l0)
            var present: [(Int, RWKVState)] = []
            for (i, s, bad) in decoded {
                if let s { present.append((i, s)) } else if bad { result.damaged.append(ids[i]) }
            }
            let scores = try models.reranker.rerankOffline(queryTokens: queryTokens, documentStates: present.map(\.1), workspace: ws)
            for ((i, _), s) in zip(present, scores) { result.scores[i] = (s, .offline) }
        }
        if !fallback.isEmpty {
            let located: [(Int, LivePassage)] = rw.read { fallback.compactMap { i in table.byID[ids[i]].map { (i, $0) } } }
            let texts = try self.texts(of: Set(located.map(\.1.document)))
            let pairs: [(Int, String)] = located.compactMap { i, p in
                guard let t = texts[p.document]?.text else { return nil }
                let utf8 = Array(t.utf8)
                guard p.end <= utf8.count else { return nil }
                return (i, String(decoding: utf8[p.start..<p.end], as: UTF8.self))
            }
            let scores = try models.reranker.rerankOnline(
                tokens: pairs.map { models.reranker.onlineTokens(query: query, document: $0.1) }, workspace: ws)
            for ((i, _), s) in zip(pairs, scores) { result.scores[i] = (s, .online) }
            result.online = pairs.count
        }
        result.rerankSeconds = seconds(clock.now - start) - result.stateLoadSeconds
        return result
    }
}
