import Foundation
import GRDB
import RWKVKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One damaged record that `verify` found.
public struct CollectionDamage: Sendable, Equatable, CustomStringConvertible {
    /// The document it belongs to (nil: a segment header or the database as a whole).
    public var document: String?
    public var passage: Int64?
    /// The file, relative to the collection directory.
    public var file: String
    public var problem: String

    public var description: String {
        [document.map { "document \"\($0)\"" }, passage.map { "passage \($0)" }, file].compactMap { $0 }.joined(separator: ", ") + ": " + problem
    }
}

/// What `DocumentCollection.verify` checked and found (and, after a repair, what it did).
public struct VerifyReport: Sendable {
    public var documents = 0
    public var passages = 0
    public var segments = 0
    public var damage: [CollectionDamage] = []
    /// SQLite's `integrity_check` (or `quick_check`) lines other than "ok".
    public var sqlite: [String] = []
    /// Sealed segments whose whole-file CRC-32C differs while every live record in them checks:
    /// the damage is in dead bytes (harmless; `compact --all` rewrites them).
    public var deadByteDamage: [String] = []
    /// What a repair did: documents deleted, documents recomputed from their stored text, headers rewritten.
    public var dropped: [String] = []
    public var recomputed: [String] = []
    public var rewrittenHeaders: [String] = []

    public var damagedDocuments: [String] { Set(damage.compactMap(\.document)).sorted() }
    public var isClean: Bool { damage.isEmpty && sqlite.isEmpty }
}

/// What `verify` does with damaged documents.
public enum VerifyRepair: String, Sendable, CaseIterable {
    /// Only report.
    case report
    /// Delete every damaged document (one transaction).
    case drop
    /// Compute damaged documents again from their stored text and metadata (those whose text itself is
    /// damaged are dropped); needs the models.
    case recompute
}

extension DocumentCollection {
    /// Whether a passage loaded from the database may be searched: its fields in range and its
    /// embedding row matching its CRC-32C. Every row is checked once per process, when it is first
    /// loaded (open, or a refresh that sees it); the search scan then reads only checked rows. The cost
    /// is one CRC-32C pass over the embedding bytes at open (SSE4.2: several GB/s).
    /// Caller holds `rw` with the passage's segment mapped.
    func passageIntact(_ p: LivePassage) -> Bool {
        guard p.start >= 0, p.end >= p.start, p.ordinal >= 0, p.embRow >= 0,
              let seg = embSegments[p.embSegment], let base = seg.base else { return false }
        let rowBytes = dimension * 4
        guard p.embRow < (seg.committedBytes - SegmentFile.headerSize) / rowBytes else { return false }
        let row = UnsafeRawBufferPointer(start: base + SegmentFile.headerSize + p.embRow * rowBytes, count: rowBytes)
        return CRC32C.checksum(row) == p.embCRC
    }

    static func segmentHeaderFields(_ kind: SegmentFile.Kind, codec: StateCodec) -> [UInt32] {
        switch kind {
        case .emb: [UInt32(codec.embeddingSize), 0]
        case .states: [codec.precision.code, UInt32(codec.layerCount), UInt32(codec.embeddingSize), UInt32(codec.blobBytes)]
        }
    }

    /// Checks every record of the version-2 collection in `url` without opening it for search (so a
    /// collection that no longer opens can still be examined): SQLite's integrity check, each segment's
    /// header, length and (sealed) whole-file CRC-32C, each passage's embedding row and state blob
    /// against their CRC-32Cs and ranges, each document's text and metadata against its SHA-256.
    /// `quick`: SQLite's `quick_check` instead of the full `integrity_check`.
    public static func verify(at url: URL, quick: Bool = false) throws -> VerifyReport {
        let manifest = try readManifest(at: url)
        guard manifest.version == CollectionManifest.currentVersion else {
            throw RetrievalError.legacyFormat(path: url.path, version: manifest.version)
        }
        let dbPath = databaseURL(url).path
        var report = VerifyReport()
        let queue: DatabaseQueue
        do { queue = try DatabaseQueue(path: dbPath, configuration: CollectionSchema.configuration(readonly: true)) } catch {
            throw RetrievalError.database(error, path: dbPath)
        }
        defer { try? queue.close() }
        let dbName = CollectionSchema.databaseName
        do {
            let lines = try queue.read { db in try String.fetchAll(db, sql: quick ? "PRAGMA quick_check" : "PRAGMA integrity_check") }
            report.sqlite = lines.filter { $0 != "ok" }
        } catch {
            report.sqlite = ["\(error)"]
        }
        let codec = try StateCodec(manifest: manifest)
        let segmentsURL = url.appendingPathComponent(CollectionSchema.segmentsFolder)
        var files: [String: SegmentFile] = [:]   // "ID.kind" -> the mapped file (intact header)
        var sealedCRC: [String: (UInt32, String)] = [:]
        var damagedFiles = Set<String>()
        do {
            try queue.read { db in
                // Segments.
                for row in try Row.fetchAll(db, sql: "SELECT id, kind, sealed, bytes, crc32c FROM segments") {
                    let id: Int = try row.decode(atIndex: 0), kindName: String = try row.decode(atIndex: 1)
                    let bytes: Int = try row.decode(atIndex: 3)
                    report.segments += 1
                    guard let kind = SegmentFile.Kind(rawValue: kindName) else {
                        report.damage.append(.init(file: dbName, problem: "segment \(id) has an unknown kind '\(kindName)'"))
                        continue
                    }
                    let name = CollectionSchema.segmentsFolder + "/" + SegmentFile.name(id: id, kind: kind)
                    let path = SegmentFile.url(in: segmentsURL, id: id, kind: kind).path
                    do {
                        let seg = try SegmentFile.open(path, id: id, kind: kind, committedBytes: bytes,
                                                       fields: segmentHeaderFields(kind, codec: codec), writable: false)
                        files["\(id).\(kind.rawValue)"] = seg
                        if try row.decode(Int.self, atIndex: 2) != 0, let crc = try row.decode(Int64?.self, atIndex: 4) {
                            sealedCRC["\(id).\(kind.rawValue)"] = (UInt32(truncatingIfNeeded: crc), name)
                        }
                    } catch let e as RetrievalError {
                        damagedFiles.insert("\(id).\(kind.rawValue)")
                        let problem: String
                        if case let .corrupt(_, reason) = e { problem = reason } else { problem = e.description }
                        report.damage.append(.init(file: name, problem: problem))
                    }
                }
                // Documents: text and metadata against the content hash; their lengths for the passages' ranges.
                var textBytes: [String: Int] = [:]
                let documents = try Row.fetchCursor(db, sql: "SELECT id, content_hash, text, metadata FROM documents")
                while let row = try documents.next() {
                    report.documents += 1
                    guard let id = try? row.decode(String.self, atIndex: 0) else {
                        report.damage.append(.init(file: dbName, problem: "a document row whose id cannot be read"))
                        continue
                    }
                    var metadata: String?, readable = true
                    do { metadata = try row.decode(String?.self, atIndex: 3) } catch { readable = false }
                    guard readable, let hash = try? row.decode(Data.self, atIndex: 1), let text = try? row.decode(String.self, atIndex: 2) else {
                        report.damage.append(.init(document: id, file: dbName, problem: "the document row cannot be read"))
                        continue
                    }
                    textBytes[id] = text.utf8.count
                    if Document(id: id, text: text, metadata: metadata).contentHash != Array(hash) {
                        report.damage.append(.init(document: id, file: dbName, problem: "text or metadata does not match its SHA-256 content hash"))
                    }
                }
                // Passages: ranges, embedding rows and state blobs.
                var damagedIn = Set<String>()
                let passages = try Row.fetchCursor(db, sql: "SELECT \(LivePassage.columns) FROM passages")
                while let row = try passages.next() {
                    report.passages += 1
                    let p: LivePassage
                    do { p = try LivePassage(row: row) } catch {
                        report.damage.append(.init(document: try? row.decode(String.self, atIndex: 1), passage: try? row.decode(Int64.self, atIndex: 0),
                                                   file: dbName, problem: "the passage row cannot be read: \(error)"))
                        continue
                    }
                    func damaged(_ file: String, _ problem: String) {
                        report.damage.append(.init(document: p.document, passage: p.id, file: file, problem: problem))
                    }
                    let embName = CollectionSchema.segmentsFolder + "/" + SegmentFile.name(id: p.embSegment, kind: .emb)
                    if let length = textBytes[p.document] {
                        if p.start < 0 || p.end < p.start || p.end > length { damaged(dbName, "passage range \(p.start)..<\(p.end) outside the text's \(length) bytes") }
                    } else {
                        damaged(dbName, "the passage's document is missing")
                    }
                    if let seg = files["\(p.embSegment).emb"], let base = seg.base {
                        let rowBytes = manifest.dimension * 4
                        if p.embRow < 0 || p.embRow >= (seg.committedBytes - SegmentFile.headerSize) / rowBytes {
                            damaged(embName, "embedding row \(p.embRow) outside the segment")
                        } else if CRC32C.checksum(UnsafeRawBufferPointer(start: base + SegmentFile.headerSize + p.embRow * rowBytes, count: rowBytes)) != p.embCRC {
                            damaged(embName, "embedding row \(p.embRow) fails its CRC-32C")
                            damagedIn.insert("\(p.embSegment).emb")
                        }
                    } else {
                        damaged(embName, damagedFiles.contains("\(p.embSegment).emb") ? "its segment file is damaged" : "its embedding segment is missing")
                    }
                    guard let stateSegment = p.stateSegment else { continue }
                    let stateName = CollectionSchema.segmentsFolder + "/" + SegmentFile.name(id: stateSegment, kind: .states)
                    if let seg = files["\(stateSegment).states"], let base = seg.base {
                        if p.stateLength != codec.blobBytes || p.stateOffset < SegmentFile.headerSize || p.stateOffset > seg.committedBytes - p.stateLength {
                            damaged(stateName, "state blob \(p.stateOffset)+\(p.stateLength) outside the segment")
                        } else if CRC32C.checksum(UnsafeRawBufferPointer(start: base + p.stateOffset, count: p.stateLength)) != p.stateCRC {
                            damaged(stateName, "state blob at \(p.stateOffset) fails its CRC-32C")
                            damagedIn.insert("\(stateSegment).states")
                        }
                    } else {
                        damaged(stateName, damagedFiles.contains("\(stateSegment).states") ? "its segment file is damaged" : "its state segment is missing")
                    }
                }
                for (key, (crc, name)) in sealedCRC where files[key]?.checksum() != crc && !damagedIn.contains(key) {
                    report.deadByteDamage.append(name)
                }
            }
        } catch let e as RetrievalError { throw e } catch {
            report.sqlite.append("\(error)")
        }
        report.deadByteDamage.sort()
        return report
    }

    /// Verifies the collection in `url` and repairs what it found: segment headers are rewritten (they
    /// hold nothing but what the manifest implies), then damaged documents are dropped or recomputed
    /// from their stored text. Returns the report of a second verification after the repair, with what
    /// was done. Takes the collection's write lock (fails while another process writes it).
    public static func repair(at url: URL, mode: VerifyRepair, models: RetrievalModels? = nil, quick: Bool = false) throws -> VerifyReport {
        var before = try verify(at: url, quick: quick)
        guard mode != .report, !before.isClean else { return before }
        if mode == .recompute && models == nil { throw RetrievalError.modelsRequired("recomputing damaged documents runs the models") }
        let manifest = try readManifest(at: url)
        var rewritten: [String] = []
        let codec = try StateCodec(manifest: manifest)
        for d in before.damage where d.document == nil && (d.problem.hasPrefix("header") || d.problem.contains("header checksum")) {
            guard let kind = SegmentFile.Kind(rawValue: (d.file as NSString).pathExtension),
                  let id = Int(((d.file as NSString).lastPathComponent as NSString).deletingPathExtension) else { continue }
            let path = url.appendingPathComponent(d.file).path
            let file = try StorageFile(path: path, writable: true, create: false)
            try file.write(SegmentFile.header(kind: kind, id: id, fields: segmentHeaderFields(kind, codec: codec)), at: 0)
            try file.sync()
            rewritten.append(d.file)
        }
        if !rewritten.isEmpty { before = try verify(at: url, quick: quick) }  // the records behind a rewritten header
        let collection = try open(at: url, models: models, writable: true, compaction: .init(deadShare: nil))
        let damaged = before.damagedDocuments
        let unreadable = Set(before.damage.filter { $0.file == CollectionSchema.databaseName && $0.passage == nil }.compactMap(\.document))
        var dropped: [String] = [], recomputed: [String] = []
        if mode == .recompute {
            let documents = damaged.filter { !unreadable.contains($0) }.compactMap { collection.document(id: $0) }
            var options = AddOptions()
            options.replaceUnchanged = true
            recomputed = try collection.add(documents, options: options).map(\.id)
        }
        let rest = damaged.filter { !Set(recomputed).contains($0) }
        if !rest.isEmpty { dropped = try collection.delete(ids: rest) }
        var after = try verify(at: url, quick: quick)
        after.dropped = dropped
        after.recomputed = recomputed
        after.rewrittenHeaders = rewritten
        return after
    }
}
