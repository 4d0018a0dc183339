import Foundation
import EmbeddingRWKV
import GRDB
import RWKVKernels
import RWKVSupport

extension DocumentCollection {
    /// A document ready for the model: its passages' spans, texts and token ids (`stateTokens[k]` empty:
    /// passage k keeps no state).
    struct PreparedDocument {
        var document: Document
        var hash: [UInt8]
        var spans: [PassageSpan]
        var texts: [String]
        var embeddingTokens: [[Int]]
        var stateTokens: [[Int]]
        var replaces: Bool
        var tokenCount: Int { embeddingTokens.reduce(0) { $0 + $1.count } + stateTokens.reduce(0) { $0 + $1.count } }
        func keepsState(_ k: Int) -> Bool { k < stateTokens.count && !stateTokens[k].isEmpty }
    }

    /// Rows ready to commit: one embedding per passage, and the encoded states of the passages that keep
    /// one, in passage order.
    struct PassageRows {
        var vectors: [[Float]]
        var stateBlobs: [UInt8]  // (passages keeping a state) * codec.blobBytes
    }

    /// Refuses a batch with an empty text (naming the document) before anything is computed or written.
    static func validate(_ documents: [Document]) throws {
        for (i, d) in documents.enumerated() {
            if d.id.isEmpty { throw RetrievalError.invalidInput("document \(i + 1): empty id") }
            if d.text.isEmpty { throw RetrievalError.invalidInput("document \"\(d.id)\": empty text") }
            if let m = d.metadata {
                guard let o = try? JSONSerialization.jsonObject(with: Data(m.utf8)), o is [String: Any] else {
                    throw RetrievalError.invalidInput("document \"\(d.id)\": metadata is not a JSON object")
                }
            }
        }
    }

    /// Adds documents (replacing documents with the same id whose text or metadata changed, all their
    /// passages at once; skipping unchanged ones), in batches. Each document is split into passages (the
    /// collection's passage options); each passage gets an embedding and a cached state. `progress` runs
    /// after each batch is durable. A batch holding an invalid document (empty text or id, metadata that
    /// is not a JSON object) is refused as a whole before anything is written.
    @discardableResult
    public func add(_ documents: [Document], options: AddOptions = AddOptions(),
                    progress: ((AddProgress) -> Void)? = nil) throws -> [AddedDocument] {
        try requireWritable()
        guard let models else { throw RetrievalError.modelsRequired("adding documents computes embeddings and states") }
        try Self.validate(documents)
        try checkShard(documents)
        writer.lock()
        defer { writer.unlock() }
        try refresh()
        let ws = pool.take()
        defer { pool.give(ws) }
        let embedder = Embedder(model: models.model, tokenizer: models.tokenizer, task: .retrieval,
                                inputProtocol: manifest.protocolValue, normalize: true)
        let splitter = try PassageSplitter(tokenizer: models.tokenizer, options: manifest.passageOptions)
        let retention = options.storeStates ? stateRetention : .none
        var results: [AddedDocument] = []
        var tokensDone = 0
        var index = 0
        let clock = ContinuousClock()
        var mark = clock.now
        var phase = [0.0, 0.0, 0.0, 0.0]
        func lap(_ i: Int) {
            let now = clock.now
            phase[i] += seconds(now - mark)
            mark = now
        }
        while index < documents.count {
            var batch: [PreparedDocument] = []
            var skipped: [AddedDocument] = []
            var batchTokens = 0
            var seen = Set<String>()
            while index < documents.count && batch.count < options.batchDocuments && batchTokens < options.batchTokens {
                let doc = documents[index]
                if seen.contains(doc.id) { break }  // a repeated id goes into the next batch, after this one
                index += 1
                let hash = doc.contentHash
                let stored = try storedHash(of: doc.id)
                if let stored, stored == hash, !options.replaceUnchanged, documentStatesFollow(doc.id, retention) {
                    skipped.append(AddedDocument(id: doc.id, outcome: .unchanged, tokens: 0))
                    continue
                }
                seen.insert(doc.id)
                let spans = splitter.split(doc.text)
                let utf8 = Array(doc.text.utf8)
                let texts = spans.map { String(decoding: utf8[$0.start..<$0.end], as: UTF8.self) }
                let e = texts.map { embedder.tokens(for: $0) }
                let s = texts.indices.map { retention.keeps(ordinal: $0) ? models.reranker.documentTokens(texts[$0]) : [] }
                let prepared = PreparedDocument(document: doc, hash: hash, spans: spans, texts: texts, embeddingTokens: e,
                                                stateTokens: s, replaces: stored != nil)
                batch.append(prepared)
                batchTokens += prepared.tokenCount
            }
            var committed = skipped
            lap(0)
            if !batch.isEmpty {
                let vectors = try models.model.embed(batch.flatMap(\.embeddingTokens), task: .retrieval, normalize: true, workspace: ws)
                var blobs: [UInt8] = []
                let stateInputs = batch.flatMap(\.stateTokens).filter { !$0.isEmpty }
                if !stateInputs.isEmpty {
                    let states = try models.reranker.documentStates(tokens: stateInputs, workspace: ws)
                    lap(1)
                    blobs = [UInt8](repeating: 0, count: states.count * codec.blobBytes)
                    blobs.withUnsafeMutableBytes { raw in
                        for (i, s) in states.enumerated() { codec.encode(s, into: raw.baseAddress! + i * codec.blobBytes) }
                    }
                }
                lap(stateInputs.isEmpty ? 1 : 2)
                try commit(batch, rows: PassageRows(vectors: vectors, stateBlobs: blobs))
                for item in batch {
                    tokensDone += item.tokenCount
                    committed.append(AddedDocument(id: item.document.id, outcome: item.replaces ? .updated : .added,
                                                   tokens: item.tokenCount, passages: item.spans.count))
                }
            }
            lap(3)
            results += committed
            progress?(AddProgress(documentsDone: results.count, documentsTotal: documents.count,
                                  tokensDone: tokensDone, committed: committed, prepareSeconds: phase[0],
                                  computeSeconds: phase[1], encodeSeconds: phase[2], writeSeconds: phase[3]))
            mark = clock.now
        }
        try annAfterWrite()
        try compactIfNeeded()
        return results
    }

    /// Adds documents with embeddings computed elsewhere: one passage per document (the whole text), no
    /// cached state (search reranks them online). Each vector must have the collection's dimension; it is
    /// stored L2-normalised. Unchanged documents are skipped, changed ones replaced, as with `add`.
    @discardableResult
    public func add(_ documents: [Document], embeddings: [[Float]], batchDocuments: Int = 4096) throws -> [AddedDocument] {
        try requireWritable()
        try Self.validate(documents)
        guard documents.count == embeddings.count else {
            throw RetrievalError.invalidInput("\(documents.count) documents but \(embeddings.count) embeddings")
        }
        for (d, v) in zip(documents, embeddings) where v.count != dimension {
            throw RetrievalError.invalidInput("document \"\(d.id)\": embedding has \(v.count) values, the collection \(dimension)")
        }
        try checkShard(documents)
        writer.lock()
        defer { writer.unlock() }
        try refresh()
        var results: [AddedDocument] = []
        var index = 0
        while index < documents.count {
            var batch: [PreparedDocument] = []
            var vectors: [[Float]] = []
            var seen = Set<String>()
            while index < documents.count && batch.count < batchDocuments {
                let doc = documents[index]
                if seen.contains(doc.id) { break }
                let hash = doc.contentHash
                let stored = try storedHash(of: doc.id)
                let v = embeddings[index]
                index += 1
                if let stored, stored == hash {
                    results.append(AddedDocument(id: doc.id, outcome: .unchanged, tokens: 0))
                    continue
                }
                seen.insert(doc.id)
                vectors.append(l2Normalized(v, minimumNorm: 1e-12))
                let n = doc.text.utf8.count
                batch.append(PreparedDocument(document: doc, hash: hash, spans: [PassageSpan(ordinal: 0, start: 0, end: n)],
                                              texts: [doc.text], embeddingTokens: [[]], stateTokens: [], replaces: stored != nil))
            }
            if !batch.isEmpty { try commit(batch, rows: PassageRows(vectors: vectors, stateBlobs: [])) }
            results += batch.map { AddedDocument(id: $0.document.id, outcome: $0.replaces ? .updated : .added, tokens: 0, passages: 1) }
        }
        try annAfterWrite()
        try compactIfNeeded()
        return results
    }

    func storedHash(of id: String) throws -> [UInt8]? {
        try db.read { db in try Data.fetchOne(db, sql: "SELECT content_hash FROM documents WHERE id = ?", arguments: [id]).map { Array($0) } }
    }

    /// Whether each stored passage of the document has a state exactly when `retention` keeps one.
    private func documentStatesFollow(_ id: String, _ retention: StateRetention) -> Bool {
        rw.read {
            (table.byDocument[id] ?? []).allSatisfy { pid in
                table.byID[pid].map { $0.hasState == retention.keeps(ordinal: $0.ordinal) } ?? false
            }
        }
    }

    /// The active pair to append `rows` embedding rows and `stateBytes` state bytes to: the highest
    /// unsealed pair with room, else a new one (created on disk now, recorded by the commit).
    private func activePair(rows: Int, stateBytes: Int) throws -> (emb: SegmentFile, states: SegmentFile, isNew: Bool, sealing: Int?) {
        let current: (Int, SegmentFile, SegmentFile)? = rw.read {
            guard let id = embSegments.keys.max(), !sealedPairs.contains(id), let e = embSegments[id], let s = stateSegments[id] else { return nil }
            return (id, e, s)
        }
        if let (id, e, s) = current {
            let usedRows = (e.committedBytes - SegmentFile.headerSize) / (dimension * 4)
            let fits = usedRows + rows <= SegmentFile.maxRows && s.committedBytes + stateBytes <= SegmentFile.maxStateBytes
            if fits || usedRows == 0 { return (e, s, false, nil) }
            let next = try newPair()
            return (next.0, next.1, true, id)
        }
        let next = try newPair()
        return (next.0, next.1, true, nil)
    }

    func newPair() throws -> (SegmentFile, SegmentFile) {
        let used = try db.read { db in try Int.fetchOne(db, sql: "SELECT max(id) FROM segments") } ?? 0
        let id = used + 1
        let e = try SegmentFile.create(in: segmentsURL, id: id, kind: .emb, fields: headerFields(.emb))
        let s = try SegmentFile.create(in: segmentsURL, id: id, kind: .states, fields: headerFields(.states))
        return (e, s)
    }

    /// The commit point of a batch: rows and blobs appended past the committed ends and fsync'd, then one
    /// transaction replaces the documents and their passages, FTS rows, segment lengths and the generation.
    private func commit(_ batch: [PreparedDocument], rows: PassageRows) throws {
        let count = rows.vectors.count
        let stateCount = rows.stateBlobs.count / codec.blobBytes
        let pair = try activePair(rows: count, stateBytes: rows.stateBlobs.count)
        let firstRow = (pair.emb.committedBytes - SegmentFile.headerSize) / (dimension * 4)
        let firstState = pair.states.committedBytes
        // 1. The bytes, durable before any row refers to them.
        var matrix = [Float]()
        matrix.reserveCapacity(count * dimension)
        for v in rows.vectors { matrix += v }
        var rowCRCs = [UInt32](repeating: 0, count: count)
        try matrix.withUnsafeBytes { raw in
            for i in 0..<count {
                rowCRCs[i] = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[(i * dimension * 4)..<((i + 1) * dimension * 4)]))
            }
            try pair.emb.file.write(raw, at: pair.emb.committedBytes)
        }
        try pair.emb.file.sync()
        var stateCRCs: [UInt32] = []
        if stateCount > 0 {
            rows.stateBlobs.withUnsafeBytes { raw in
                for i in 0..<stateCount {
                    stateCRCs.append(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[(i * codec.blobBytes)..<((i + 1) * codec.blobBytes)])))
                }
            }
            try pair.states.file.write(rows.stateBlobs, at: firstState)
            try pair.states.file.sync()
        }
        let embEnd = pair.emb.committedBytes + count * dimension * 4
        let stateEnd = firstState + rows.stateBlobs.count
        // 2. The transaction: the commit point.
        var removed: [Int64] = []
        var added: [LivePassage] = []
        var generation: Int64 = 0
        let now = CollectionSchema.timestamp()
        let sealedCRC: (Int, UInt32, UInt32)? = try pair.sealing.map { id in
            try rw.read { () throws -> (Int, UInt32, UInt32) in
                guard let e = embSegments[id], let s = stateSegments[id] else { throw RetrievalError.corrupt(path: segmentsURL.path, reason: "segment \(id) vanished") }
                return (id, e.checksum(), s.checksum())
            }
        }
        do {
            try db.write { db in
                if pair.isNew {
                    for kind in [SegmentFile.Kind.emb, .states] {
                        try db.execute(sql: "INSERT INTO segments (id, kind, sealed, bytes, created) VALUES (?, ?, 0, ?, ?)",
                                       arguments: [pair.emb.id, kind.rawValue, SegmentFile.headerSize, now])
                    }
                }
                if let (id, ec, sc) = sealedCRC {
                    try db.execute(sql: "UPDATE segments SET sealed = 1, crc32c = ? WHERE id = ? AND kind = 'emb'", arguments: [Int64(ec), id])
                    try db.execute(sql: "UPDATE segments SET sealed = 1, crc32c = ? WHERE id = ? AND kind = 'states'", arguments: [Int64(sc), id])
                }
                var row = firstRow
                var blob = 0
                for item in batch {
                    let id = item.document.id
                    removed += try Int64.fetchAll(db, sql: "SELECT id FROM passages WHERE document = ?", arguments: [id])
                    try db.execute(sql: "DELETE FROM passages_fts WHERE rowid IN (SELECT id FROM passages WHERE document = ?)", arguments: [id])
                    try db.execute(sql: "DELETE FROM passages WHERE document = ?", arguments: [id])
                    try db.execute(sql: "DELETE FROM documents WHERE id = ?", arguments: [id])
                    try db.execute(sql: "INSERT INTO documents (id, content_hash, text, metadata, shard, added) VALUES (?, ?, ?, ?, ?, ?)",
                                   arguments: [id, Data(item.hash), item.document.text, item.document.metadata,
                                               ShardAssignment.shard(of: id, count: manifest.shardCount), now])
                    try MetadataIndex.insert(db, document: id, metadata: item.document.metadata)
                    for (k, span) in item.spans.enumerated() {
                        let keeps = item.keepsState(k)
                        let stateOffset = keeps ? firstState + blob * codec.blobBytes : nil
                        try db.execute(sql: """
                            INSERT INTO passages (document, ordinal, start, "end", embedding_tokens, state_tokens, emb_segment, emb_row,
                              emb_crc32c, state_segment, state_offset, state_length, state_crc32c) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """, arguments: [id, span.ordinal, span.start, span.end, item.embeddingTokens[k].count,
                                             keeps ? item.stateTokens[k].count : 0, pair.emb.id, row, Int64(rowCRCs[row - firstRow]),
                                             keeps ? pair.states.id : nil, stateOffset, keeps ? codec.blobBytes : nil,
                                             keeps ? Int64(stateCRCs[blob]) : nil])
                        if keeps { blob += 1 }
                        let pid = db.lastInsertedRowID
                        try db.execute(sql: "INSERT INTO passages_fts (rowid, text) VALUES (?, ?)",
                                       arguments: [pid, LexicalText.normalize(item.texts[k])])
                        let inserted = try Row.fetchOne(db, sql: "SELECT \(LivePassage.columns) FROM passages WHERE id = ?", arguments: [pid])!
                        added.append(try LivePassage(row: inserted))
                        row += 1
                    }
                }
                try db.execute(sql: "UPDATE segments SET bytes = ? WHERE id = ? AND kind = 'emb'", arguments: [embEnd, pair.emb.id])
                try db.execute(sql: "UPDATE segments SET bytes = ? WHERE id = ? AND kind = 'states'", arguments: [stateEnd, pair.states.id])
                try CollectionSchema.bumpGeneration(db)
                generation = try Int64.fetchOne(db, sql: "SELECT generation FROM changes") ?? 0
                try PassageDeletionLog.record(db, removed: removed, generation: generation)
            }
        } catch {
            if pair.isNew {  // never referenced: remove the new files now rather than at the next open
                try? FileManager.default.removeItem(atPath: pair.emb.path)
                try? FileManager.default.removeItem(atPath: pair.states.path)
            }
            throw RetrievalError.database(error, path: Self.databaseURL(url).path)
        }
        // 3. Publish to this process's readers: the new lengths (and mappings that cover them) under the
        // write lock, which readers hold while they read `committedBytes` (ThreadSanitizer found the race).
        try rw.write {
            try pair.emb.setCommitted(embEnd)
            try pair.states.setCommitted(stateEnd)
            if let id = pair.sealing { sealedPairs.insert(id) }
        }
        try applyCommitted(removed: removed, added: added, generation: generation, segments: [pair.emb, pair.states])
    }

    /// Deletes documents by id; returns the ids that were present (and are now gone, durably).
    @discardableResult
    public func delete(ids: [String]) throws -> [String] {
        try requireWritable()
        writer.lock()
        defer { writer.unlock() }
        let deleted = try deleteLocked(ids: ids)
        try annAfterWrite()
        try compactIfNeeded()
        return deleted
    }

    /// Deletes the documents whose metadata matches `filter`; returns their ids.
    @discardableResult
    public func delete(where filter: MetadataFilter) throws -> [String] {
        try requireWritable()
        let c = filterCondition(filter)
        let ids = try db.read { db in
            try String.fetchAll(db, sql: "SELECT d.id FROM documents d WHERE \(c.sql) ORDER BY d.id", arguments: StatementArguments(c.arguments))
        }
        return try delete(ids: ids)
    }

    private func deleteLocked(ids: [String]) throws -> [String] {
        try refresh()
        var present: [String] = []
        var seen = Set<String>()
        for id in ids where !seen.contains(id) {
            seen.insert(id)
            if try storedHash(of: id) != nil { present.append(id) }
        }
        guard !present.isEmpty else { return [] }
        var removed: [Int64] = []
        var generation: Int64 = 0
        do {
            try db.write { db in
                for id in present {
                    removed += try Int64.fetchAll(db, sql: "SELECT id FROM passages WHERE document = ?", arguments: [id])
                    try db.execute(sql: "DELETE FROM passages_fts WHERE rowid IN (SELECT id FROM passages WHERE document = ?)", arguments: [id])
                    try db.execute(sql: "DELETE FROM passages WHERE document = ?", arguments: [id])
                    try db.execute(sql: "DELETE FROM documents WHERE id = ?", arguments: [id])
                }
                try CollectionSchema.bumpGeneration(db)
                generation = try Int64.fetchOne(db, sql: "SELECT generation FROM changes") ?? 0
                try PassageDeletionLog.record(db, removed: removed, generation: generation)
            }
        } catch {
            throw RetrievalError.database(error, path: Self.databaseURL(url).path)
        }
        try applyCommitted(removed: removed, added: [], generation: generation, segments: [])
        return present
    }
}
