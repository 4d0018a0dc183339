import Foundation
import GRDB
import RWKVKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Version-1 collections (`collection.json`, `documents.log`, `embeddings.f32`, `states.bin`): read
/// through an in-memory version-2 database whose segment 1 is the version-1 files themselves (same
/// layout after their 64-byte headers), and `migrate`d to version 2 on disk.
public enum LegacyCollection {
    static let manifestName = "collection.json"
    static let logName = "documents.log"
    static let embeddingsName = "embeddings.f32"
    static let statesName = "states.bin"
    static let backupFolder = "v1-backup"

    /// What `migrate` did.
    public struct MigrationReport: Sendable, Equatable {
        public var documents: Int
        public var embeddingBytes: Int
        public var stateBytes: Int
        /// Where the version-1 files are now (removed with `deleteBackup`).
        public var backup: String
    }

    static func readManifest(at url: URL) throws -> CollectionManifest {
        let path = url.appendingPathComponent(manifestName).path
        guard let data = FileManager.default.contents(atPath: path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              object["format"] as? String == CollectionManifest.formatName, let version = object["version"] as? Int else {
            throw RetrievalError.corrupt(path: path, reason: "not a collection manifest")
        }
        guard version == 1 else {
            throw RetrievalError.unsupportedVersion(path: url.path, found: version, supported: CollectionManifest.currentVersion)
        }
        var manifest = try CollectionManifest.from(object: object, path: path)
        manifest.split = false  // each version-1 document is one passage
        return manifest
    }

    struct Entry {
        var put: DocumentLog.Put
    }

    /// The live documents of a version-1 log, and the committed ends of its data files.
    static func readLog(at url: URL, manifest: CollectionManifest) throws -> (entries: [DocumentLog.Put], embEnd: Int, stateEnd: Int) {
        let log = try StorageFile(path: url.appendingPathComponent(logName).path, writable: false, create: false)
        try log.ensureMapped()
        guard let base = log.base else { throw RetrievalError.corrupt(path: log.path, reason: "empty log") }
        let (records, _, headerValid) = DocumentLog.scan(UnsafeRawBufferPointer(start: base, count: log.size))
        guard headerValid else { throw RetrievalError.corrupt(path: log.path, reason: "bad header") }
        var entries: [String: DocumentLog.Put] = [:]
        var order: [String] = []
        var maxRow = -1
        var stateEnd = SegmentFile.headerSize
        for scanned in records {
            switch scanned.record {
            case let .put(p):
                if entries[p.id] == nil { order.append(p.id) }
                entries[p.id] = p
                maxRow = max(maxRow, p.row)
                if p.stateLength > 0 { stateEnd = max(stateEnd, p.stateOffset + p.stateLength) }
            case let .delete(id):
                entries[id] = nil
            }
        }
        return (order.compactMap { entries[$0] }, SegmentFile.headerSize + (maxRow + 1) * manifest.dimension * 4, stateEnd)
    }

    /// Fills a fresh version-2 schema from the version-1 files (segment pair 1 = their data).
    static func populate(_ db: Database, url: URL, manifest: CollectionManifest,
                         emb: StorageFile, states: StorageFile, log: (entries: [DocumentLog.Put], embEnd: Int, stateEnd: Int)) throws {
        let now = CollectionSchema.timestamp()
        try db.execute(sql: "INSERT INTO segments (id, kind, sealed, bytes, created) VALUES (1, 'emb', 0, ?, ?)", arguments: [log.embEnd, now])
        try db.execute(sql: "INSERT INTO segments (id, kind, sealed, bytes, created) VALUES (1, 'states', 0, ?, ?)", arguments: [log.stateEnd, now])
        try emb.ensureMapped()
        try states.ensureMapped()
        let rowBytes = manifest.dimension * 4
        for p in log.entries {
            let text = p.text
            try db.execute(sql: "INSERT INTO documents (id, content_hash, text, metadata, shard, added) VALUES (?, ?, ?, ?, 0, ?)",
                           arguments: [p.id, Data(p.contentHash), text, p.metadata, now])
            try MetadataIndex.insert(db, document: p.id, metadata: p.metadata)
            guard let eb = emb.base, SegmentFile.headerSize + (p.row + 1) * rowBytes <= emb.size else {
                throw RetrievalError.corrupt(path: emb.path, reason: "row \(p.row) of \(p.id) is past the end")
            }
            let embCRC = CRC32C.checksum(UnsafeRawBufferPointer(start: eb + SegmentFile.headerSize + p.row * rowBytes, count: rowBytes))
            var stateCRC: Int64?
            if p.stateLength > 0 {
                guard let sb = states.base, p.stateOffset + p.stateLength <= states.size else {
                    throw RetrievalError.corrupt(path: states.path, reason: "state of \(p.id) is past the end")
                }
                stateCRC = Int64(CRC32C.checksum(UnsafeRawBufferPointer(start: sb + p.stateOffset, count: p.stateLength)))
            }
            try db.execute(sql: """
                INSERT INTO passages (document, ordinal, start, "end", embedding_tokens, state_tokens, emb_segment, emb_row,
                  emb_crc32c, state_segment, state_offset, state_length, state_crc32c) VALUES (?, 0, 0, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)
                """, arguments: [p.id, text.utf8.count, p.embeddingTokens, p.stateTokens, p.row, Int64(embCRC),
                                 p.stateLength > 0 ? 1 : nil, p.stateLength > 0 ? p.stateOffset : nil,
                                 p.stateLength > 0 ? p.stateLength : nil, stateCRC])
            try db.execute(sql: "INSERT INTO passages_fts (rowid, text) VALUES (?, ?)", arguments: [db.lastInsertedRowID, LexicalText.normalize(text)])
        }
        try CollectionSchema.bumpGeneration(db)
    }

    /// A read-only view of a version-1 collection: an in-memory database over its own files.
    static func inMemoryDatabase(at url: URL, manifest: CollectionManifest) throws -> (DatabaseQueue, (emb: String, states: String)) {
        let embPath = url.appendingPathComponent(embeddingsName).path, statesPath = url.appendingPathComponent(statesName).path
        let log = try readLog(at: url, manifest: manifest)
        let emb = try StorageFile(path: embPath, writable: false, create: false)
        let states = try StorageFile(path: statesPath, writable: false, create: false)
        do {
            let queue = try DatabaseQueue()
            try queue.write { db in
                try CollectionSchema.create(db, manifest: manifest)
                try populate(db, url: url, manifest: manifest, emb: emb, states: states, log: log)
            }
            return (queue, (embPath, statesPath))
        } catch let e as RetrievalError { throw e } catch {
            throw RetrievalError.database(path: url.path, message: "\(error)")
        }
    }

    /// Converts a version-1 collection to version 2 in place: the new database and segments are built in
    /// `.migrating/` (each document one passage; rows and state blobs copied as they are) and fsync'd,
    /// the segments then the database renamed into place (the switch), then the version-1 files moved to
    /// `v1-backup/` (`collection.json` last). A crash at any point leaves an intact version 1 or a
    /// complete version 2; running `migrate` again finishes an interrupted one.
    public static func migrate(at url: URL, deleteBackup: Bool = false) throws -> MigrationReport {
        let fm = FileManager.default
        let backup = url.appendingPathComponent(backupFolder)
        let dbURL = url.appendingPathComponent(CollectionSchema.databaseName)
        var report = MigrationReport(documents: 0, embeddingBytes: 0, stateBytes: 0, backup: backup.path)
        if !fm.fileExists(atPath: dbURL.path) {
            let manifest = try readManifest(at: url)
            var v2 = manifest
            v2.version = CollectionManifest.currentVersion
            let lock = url.appendingPathComponent(CollectionSchema.lockName).path
            let fd = posixOpen(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw RetrievalError.errno(lock, "open") }
            defer { close(fd) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { throw RetrievalError.locked(path: url.path) }
            let tmp = url.appendingPathComponent(".migrating")
            try? fm.removeItem(at: tmp)
            let tmpSegments = tmp.appendingPathComponent(CollectionSchema.segmentsFolder)
            do { try fm.createDirectory(at: tmpSegments, withIntermediateDirectories: true) } catch {
                throw RetrievalError.io(path: tmp.path, operation: "create directory", message: error.localizedDescription)
            }
            let log = try readLog(at: url, manifest: manifest)
            let oldEmb = try StorageFile(path: url.appendingPathComponent(embeddingsName).path, writable: false, create: false)
            let oldStates = try StorageFile(path: url.appendingPathComponent(statesName).path, writable: false, create: false)
            // Segment pair 1: a version-2 header, then the version-1 bytes after their header, unchanged.
            let codec = try StateCodec(manifest: manifest)
            let fields: [(SegmentFile.Kind, StorageFile, Int, [UInt32])] = [
                (.emb, oldEmb, log.embEnd, [UInt32(manifest.dimension), 0]),
                (.states, oldStates, log.stateEnd, DocumentCollection.segmentHeaderFields(.states, codec: codec)),
            ]
            var newFiles: [StorageFile] = []
            for (kind, old, end, f) in fields {
                let seg = try SegmentFile.create(in: tmpSegments, id: 1, kind: kind, fields: f)
                var offset = SegmentFile.headerSize
                while offset < end {
                    let n = min(32 << 20, end - offset)
                    try seg.file.write(try old.read(at: offset, count: n), at: offset)
                    offset += n
                }
                try seg.file.sync()
                newFiles.append(seg.file)
            }
            report.embeddingBytes = log.embEnd
            report.stateBytes = log.stateEnd
            report.documents = log.entries.count
            do {
                let queue = try DatabaseQueue(path: tmp.appendingPathComponent(CollectionSchema.databaseName).path,
                                              configuration: CollectionSchema.configuration())
                try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
                try queue.write { db in
                    try CollectionSchema.create(db, manifest: v2)
                    try populate(db, url: url, manifest: manifest, emb: newFiles[0], states: newFiles[1], log: log)
                }
                try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
                try queue.close()
            } catch let e as RetrievalError { throw e } catch {
                throw RetrievalError.database(path: tmp.path, message: "\(error)")
            }
            syncDirectory(tmp.path)
            // The switch: segments first (ignored by version 1), then the database.
            let segments = url.appendingPathComponent(CollectionSchema.segmentsFolder)
            try? fm.removeItem(at: segments)
            guard rename(tmpSegments.path, segments.path) == 0 else { throw RetrievalError.errno(tmpSegments.path, "rename") }
            syncDirectory(url.path)
            let tmpDB = tmp.appendingPathComponent(CollectionSchema.databaseName).path
            guard rename(tmpDB, dbURL.path) == 0 else { throw RetrievalError.errno(tmpDB, "rename") }
            syncDirectory(url.path)
            try? fm.removeItem(at: tmp)
        }
        // Version-1 files into the backup folder, collection.json last.
        try? fm.createDirectory(at: backup, withIntermediateDirectories: true)
        for name in [logName, embeddingsName, statesName, manifestName] {
            let from = url.appendingPathComponent(name).path
            if fm.fileExists(atPath: from) {
                guard rename(from, backup.appendingPathComponent(name).path) == 0 else { throw RetrievalError.errno(from, "rename") }
            }
        }
        syncDirectory(url.path)
        if deleteBackup { try? fm.removeItem(at: backup) }
        if report.documents == 0 {
            report.documents = (try? DocumentCollection.open(at: url, models: nil).count) ?? 0
        }
        return report
    }
}
