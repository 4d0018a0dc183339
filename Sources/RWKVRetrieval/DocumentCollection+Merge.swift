import Foundation
import GRDB
import RWKVKernels

/// What one `merge` of a source did.
public struct MergeReport: Sendable, Equatable {
    public var source: String
    public var documentsAdded = 0
    /// Documents whose id was present with another content hash (replaced by the source's).
    public var documentsReplaced = 0
    /// Documents already present with the same content hash, or of another shard (skipped).
    public var documentsSkipped = 0
    public var passagesCopied = 0
    public var bytesCopied = 0
    public var segmentsCreated = 0
}

extension DocumentCollection {
    /// The collection directory a merge source names: a collection (or shard, or a worker's output),
    /// or its `segments/` folder.
    public static func mergeSourceURL(_ url: URL) -> URL {
        let standard = url.standardizedFileURL
        if standard.lastPathComponent == CollectionSchema.segmentsFolder, !exists(at: standard),
           exists(at: standard.deletingLastPathComponent()) {
            return standard.deletingLastPathComponent()
        }
        return standard
    }

    /// Opens the merge destination `url`, creating it (no models needed) like the collection at `source`
    /// when absent; `shard`: the destination holds only that shard (recorded in its manifest).
    public static func openMergeDestination(at url: URL, like source: URL, shard: ShardAssignment?) throws -> DocumentCollection {
        if exists(at: url) {
            let c = try open(at: url, models: nil, writable: true)
            if let shard, shard != c.manifest.shard {
                throw RetrievalError.configurationMismatch("\(url.path) holds shard \(c.manifest.shard), not \(shard)")
            }
            return c
        }
        var manifest = try readManifest(at: mergeSourceURL(source))
        guard manifest.version == CollectionManifest.currentVersion else {
            throw RetrievalError.legacyFormat(path: source.path, version: manifest.version)
        }
        manifest.created = CollectionSchema.timestamp()
        manifest.shardCount = shard?.count ?? 1
        manifest.shardIndex = shard?.index ?? 0
        return try create(at: url, manifest: manifest, models: nil)
    }

    /// Copies the documents of the collection at `source` (a collection, a shard or a worker's output)
    /// into this one: those of this collection's shard that are not already here with the same content
    /// hash (a document present with another hash is replaced). Crash-safe: the passages' embedding rows
    /// and state blobs are copied into new sealed segments (fresh ids, checked against their CRC-32C,
    /// fsync'd), then one transaction inserts the segments, documents, passages and BM25 rows; a crash
    /// before it leaves only orphan files (removed at the next writable open), so a reopened collection
    /// has all of a source or none. Merging the same source again adds nothing.
    @discardableResult
    public func merge(from source: URL) throws -> MergeReport {
        try requireWritable()
        let sourceURL = Self.mergeSourceURL(source)
        if sourceURL.path == url.standardizedFileURL.path {
            throw RetrievalError.invalidInput("cannot merge \(url.path) into itself")
        }
        let from = try DocumentCollection.open(at: sourceURL, models: nil)
        if from.isLegacy { throw RetrievalError.legacyFormat(path: sourceURL.path, version: 1) }
        try checkMergeable(from.manifest, path: sourceURL.path)
        writer.lock()
        defer { writer.unlock() }
        try refresh()
        var report = MergeReport(source: sourceURL.path)
        // 1. Which documents: this shard's, not already here with the same content.
        let shard = manifest.shard
        let sourceDocuments = try from.db.read { db in
            try Row.fetchAll(db, sql: "SELECT id, content_hash, text, metadata, added FROM documents ORDER BY id").map {
                MergedDocument(id: $0[0], hash: Array($0[1] as Data), text: $0[2], metadata: $0[3], added: $0[4])
            }
        }
        let present = try db.read { db in
            Dictionary(try Row.fetchAll(db, sql: "SELECT id, content_hash FROM documents").map { ($0[0] as String, Array($0[1] as Data)) },
                       uniquingKeysWith: { a, _ in a })
        }
        try from.refresh()  // its passages as of now: at least those of the documents just read
        let hasPassages = from.rw.read { Set(from.table.byDocument.keys) }
        var taken: [MergedDocument] = []
        for d in sourceDocuments {
            if !shard.contains(d.id) || present[d.id] == d.hash || !hasPassages.contains(d.id) {
                report.documentsSkipped += 1
                continue
            }
            if present[d.id] != nil { report.documentsReplaced += 1 } else { report.documentsAdded += 1 }
            taken.append(d)
        }
        guard !taken.isEmpty else { return report }
        // 2. The bytes, in new sealed segments, durable before any row refers to them.
        let passages: [LivePassage] = from.rw.read {
            taken.flatMap { d in (from.table.byDocument[d.id] ?? []).compactMap { from.table.byID[$0] } }
        }
        let output = try SegmentPairWriter(collection: self)
        do {
            let placements = try output.copy(passages, from: from)
            try output.seal()
            report.passagesCopied = placements.count
            report.bytesCopied = output.bytesWritten
            report.segmentsCreated = output.pairs.count * 2
            // 3. One transaction: the commit point.
            try commitMerge(taken, passages: passages, placements: placements, segments: output)
        } catch {
            output.removeFiles()
            if let e = error as? RetrievalError { throw e }
            throw RetrievalError.database(path: Self.databaseURL(url).path, message: "\(error)")
        }
        try refresh()
        return report
    }

    /// The source must have been built exactly like this collection: same weights, states, passages and templates.
    func checkMergeable(_ other: CollectionManifest, path: String) throws {
        let mine = manifest
        guard other.format == mine.format, other.version == mine.version else {
            throw RetrievalError.configurationMismatch("\(path) is a \(other.format) version \(other.version) collection, \(url.path) version \(mine.version)")
        }
        guard other.model.embedding == mine.model.embedding, other.model.reranker == mine.model.reranker else {
            throw RetrievalError.modelMismatch(collection: "\(mine.model.description) (\(url.path))", given: "\(other.model.description) (\(path))")
        }
        let fields: [(String, String, String)] = [
            ("state precision", other.statePrecision.rawValue, mine.statePrecision.rawValue),
            ("shift precision", other.shiftPrecision, mine.shiftPrecision),
            ("dimension", "\(other.dimension)", "\(mine.dimension)"),
            ("state layers", "\(other.stateLayers)", "\(mine.stateLayers)"),
            ("input protocol", other.inputProtocol, mine.inputProtocol),
            ("passage options", "\(other.passageOptions)", "\(mine.passageOptions)"),
            ("state template", other.stateTemplate, mine.stateTemplate),
            ("query instruction", other.queryInstruction, mine.queryInstruction),
        ]
        // Weight precision: compared where both collections recorded one (older ones did not).
        if let theirs = other.weightPrecision, let ours = mine.weightPrecision, theirs != ours {
            throw RetrievalError.configurationMismatch("cannot merge \(path) into \(url.path): its weight precision is \(theirs.rawValue), the destination's \(ours.rawValue)")
        }
        for (name, theirs, ours) in fields where theirs != ours {
            throw RetrievalError.configurationMismatch("cannot merge \(path) into \(url.path): its \(name) is \(theirs), the destination's \(ours)")
        }
    }

    private func commitMerge(_ documents: [MergedDocument], passages: [LivePassage], placements: [SegmentPairWriter.Placement],
                             segments: SegmentPairWriter) throws {
        let now = CollectionSchema.timestamp()
        var byDocument: [String: [(LivePassage, SegmentPairWriter.Placement)]] = [:]
        for (p, place) in zip(passages, placements) { byDocument[p.document, default: []].append((p, place)) }
        try db.write { db in
            for (e, s) in segments.pairs {
                for seg in [e, s] {
                    try db.execute(sql: "INSERT INTO segments (id, kind, sealed, bytes, crc32c, created) VALUES (?, ?, 1, ?, ?, ?)",
                                   arguments: [seg.id, seg.kind.rawValue, seg.committedBytes, Int64(seg.checksum()), now])
                }
            }
            for d in documents {
                try db.execute(sql: "DELETE FROM passages_fts WHERE rowid IN (SELECT id FROM passages WHERE document = ?)", arguments: [d.id])
                try db.execute(sql: "DELETE FROM passages WHERE document = ?", arguments: [d.id])
                try db.execute(sql: "DELETE FROM documents WHERE id = ?", arguments: [d.id])
                try db.execute(sql: "INSERT INTO documents (id, content_hash, text, metadata, shard, added) VALUES (?, ?, ?, ?, ?, ?)",
                               arguments: [d.id, Data(d.hash), d.text, d.metadata, ShardAssignment.shard(of: d.id, count: manifest.shardCount), d.added])
                try MetadataIndex.insert(db, document: d.id, metadata: d.metadata)
                let utf8 = Array(d.text.utf8)
                for (p, place) in byDocument[d.id] ?? [] {
                    try db.execute(sql: """
                        INSERT INTO passages (document, ordinal, start, "end", embedding_tokens, state_tokens, emb_segment, emb_row,
                          emb_crc32c, state_segment, state_offset, state_length, state_crc32c) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [d.id, p.ordinal, p.start, p.end, p.embeddingTokens, p.stateTokens, place.segment, place.row,
                                         Int64(p.embCRC), p.hasState ? place.segment : nil, p.hasState ? place.stateOffset : nil,
                                         p.hasState ? p.stateLength : nil, p.hasState ? Int64(p.stateCRC) : nil])
                    let text = String(decoding: utf8[min(p.start, utf8.count)..<min(p.end, utf8.count)], as: UTF8.self)
                    try db.execute(sql: "INSERT INTO passages_fts (rowid, text) VALUES (?, ?)",
                                   arguments: [db.lastInsertedRowID, LexicalText.normalize(text)])
                }
            }
            try CollectionSchema.bumpGeneration(db)
        }
    }
}

/// A document as read from a merge source.
private struct MergedDocument {
    var id: String
    var hash: [UInt8]
    var text: String
    var metadata: String?
    var added: String
}

/// New segment pairs of a collection, filled with copies of another collection's rows and blobs
/// (buffered, a new pair when one is full), fsync'd and sealed; nothing refers to them until a commit.
final class SegmentPairWriter {
    struct Placement {
        var segment: Int
        var row: Int
        var stateOffset: Int
    }

    private let collection: DocumentCollection
    private var nextID: Int
    private(set) var pairs: [(SegmentFile, SegmentFile)] = []
    private(set) var bytesWritten = 0
    private var rows = 0
    private var embBuffer: [UInt8] = []
    private var stateBuffer: [UInt8] = []

    init(collection: DocumentCollection) throws {
        self.collection = collection
        nextID = try collection.db.read { db in try Int.fetchOne(db, sql: "SELECT max(id) FROM segments") } ?? 0
    }

    /// Copies each passage's embedding row and state blob out of `source`, checking their CRC-32C.
    func copy(_ passages: [LivePassage], from source: DocumentCollection) throws -> [Placement] {
        let rowBytes = collection.dimension * 4
        var placements: [Placement] = []
        placements.reserveCapacity(passages.count)
        for p in passages {
            if pairs.isEmpty || rows + 1 > SegmentFile.maxRows || stateEnd + p.stateLength > SegmentFile.maxStateBytes { try startPair() }
            let (e, _) = pairs[pairs.count - 1]
            let place = Placement(segment: e.id, row: rows, stateOffset: stateEnd)
            try source.rw.read { () throws -> Void in
                guard let base = source.embSegments[p.embSegment]?.base,
                      SegmentFile.headerSize + (p.embRow + 1) * rowBytes <= source.embSegments[p.embSegment]!.committedBytes else {
                    throw RetrievalError.corrupt(path: source.url.path, reason: "passage \(p.id): embedding row \(p.embRow) of segment \(p.embSegment) is missing")
                }
                let row = UnsafeRawBufferPointer(start: base + SegmentFile.headerSize + p.embRow * rowBytes, count: rowBytes)
                guard CRC32C.checksum(row) == p.embCRC else {
                    throw RetrievalError.corrupt(path: source.url.path, reason: "passage \(p.id) of \"\(p.document)\": embedding row checksum mismatch")
                }
                embBuffer += row
                guard p.hasState else { return }
                guard let seg = source.stateSegments[p.stateSegment!], let sbase = seg.base, p.stateOffset + p.stateLength <= seg.committedBytes else {
                    throw RetrievalError.corrupt(path: source.url.path, reason: "passage \(p.id): state blob missing")
                }
                let blob = UnsafeRawBufferPointer(start: sbase + p.stateOffset, count: p.stateLength)
                guard CRC32C.checksum(blob) == p.stateCRC else {
                    throw RetrievalError.corrupt(path: source.url.path, reason: "passage \(p.id) of \"\(p.document)\": state checksum mismatch")
                }
                stateBuffer += blob
            }
            placements.append(place)
            rows += 1
            // Buffered 32 MiB at a time (one pwrite per row was 3x slower than a plain copy).
            if embBuffer.count + stateBuffer.count >= 32 << 20 { try flush() }
        }
        return placements
    }

    /// The end of the current state segment, buffered bytes included.
    private var stateEnd: Int { (pairs.last?.1.committedBytes ?? SegmentFile.headerSize) + stateBuffer.count }

    private func startPair() throws {
        if !pairs.isEmpty { try finishPair() }
        nextID += 1
        let folder = collection.segmentsURL
        let e = try SegmentFile.create(in: folder, id: nextID, kind: .emb, fields: collection.headerFields(.emb))
        let s = try SegmentFile.create(in: folder, id: nextID, kind: .states, fields: collection.headerFields(.states))
        pairs.append((e, s))
        rows = 0
    }

    private func flush() throws {
        guard let (e, s) = pairs.last else { return }
        if !embBuffer.isEmpty {
            try e.file.write(embBuffer, at: e.committedBytes)
            try e.setCommitted(e.committedBytes + embBuffer.count)
            bytesWritten += embBuffer.count
            embBuffer.removeAll(keepingCapacity: true)
        }
        if !stateBuffer.isEmpty {
            try s.file.write(stateBuffer, at: s.committedBytes)
            try s.setCommitted(s.committedBytes + stateBuffer.count)
            bytesWritten += stateBuffer.count
            stateBuffer.removeAll(keepingCapacity: true)
        }
    }

    private func finishPair() throws {
        try flush()
        guard let (e, s) = pairs.last else { return }
        try e.file.sync()
        try s.file.sync()
    }

    /// Writes what is buffered and fsyncs every file (the segment checksums are taken at the commit).
    func seal() throws {
        try finishPair()
        syncDirectory(collection.segmentsURL.path)
    }

    /// Removes the files (nothing committed refers to them).
    func removeFiles() {
        for (e, s) in pairs {
            try? FileManager.default.removeItem(atPath: e.path)
            try? FileManager.default.removeItem(atPath: s.path)
        }
    }
}
