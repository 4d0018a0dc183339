import Foundation
import GRDB

/// `collection.sqlite`: connection settings and the version-2 schema (docs/collection-format-v2.md).
enum CollectionSchema {
    static let databaseName = "collection.sqlite"
    static let segmentsFolder = "segments"
    static let lockName = "lock"

    /// WAL, synchronous=FULL (in WAL mode NORMAL may lose the last commits on power loss; FULL fsyncs the
    /// WAL on every commit, so an acknowledged write is durable), foreign keys, a 5 s busy timeout.
    static func configuration(readonly: Bool = false) -> Configuration {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(5)
        config.readonly = readonly
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        return config
    }

    /// Opens (creating when absent) the database at `path` as a WAL pool.
    static func open(path: String) throws -> DatabasePool {
        do { return try DatabasePool(path: path, configuration: configuration()) } catch {
            throw RetrievalError.database(path: path, message: "\(error)")
        }
    }

    static let statements = [
        "CREATE TABLE manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        // (id, kind) is the key: an embedding segment and its state segment share the number NNNNNN.
        """
        CREATE TABLE segments (
          id INTEGER NOT NULL, kind TEXT NOT NULL, sealed INTEGER NOT NULL DEFAULT 0,
          bytes INTEGER NOT NULL, crc32c INTEGER, created TEXT NOT NULL, PRIMARY KEY (id, kind))
        """,
        """
        CREATE TABLE documents (
          id TEXT PRIMARY KEY, content_hash BLOB NOT NULL, text TEXT NOT NULL, metadata TEXT,
          shard INTEGER NOT NULL DEFAULT 0, added TEXT NOT NULL) WITHOUT ROWID
        """,
        """
        CREATE TABLE passages (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          document TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
          ordinal INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
          embedding_tokens INTEGER NOT NULL, state_tokens INTEGER NOT NULL,
          emb_segment INTEGER NOT NULL, emb_row INTEGER NOT NULL, emb_crc32c INTEGER NOT NULL,
          state_segment INTEGER, state_offset INTEGER, state_length INTEGER, state_crc32c INTEGER,
          UNIQUE (document, ordinal))
        """,
        "CREATE VIRTUAL TABLE passages_fts USING fts5(text, tokenize = 'unicode61 remove_diacritics 2')",
        "CREATE TABLE changes (generation INTEGER NOT NULL)",
        "INSERT INTO changes (generation) VALUES (0)",
    ]

    /// Creates the schema and writes the manifest (one transaction).
    static func create(_ db: Database, manifest: CollectionManifest) throws {
        for sql in statements { try db.execute(sql: sql) }
        try PassageDeletionLog.create(db)
        for sql in MetadataIndex.statements() { try db.execute(sql: sql) }
        for row in try manifest.rows() {
            try db.execute(sql: "INSERT INTO manifest (key, value) VALUES (?, ?)", arguments: [row.key, row.value])
        }
    }

    static func readManifest(_ db: Database, path: String) throws -> CollectionManifest {
        guard try db.tableExists("manifest") else { throw RetrievalError.corrupt(path: path, reason: "no manifest table") }
        var rows: [String: String] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT key, value FROM manifest") {
            // Decoded with errors (a damaged row may hold NULL or a blob), never GRDB's trapping subscript.
            guard let key = try? row.decode(String.self, atIndex: 0), let value = try? row.decode(String.self, atIndex: 1) else {
                throw RetrievalError.corrupt(path: path, reason: "a manifest row cannot be read")
            }
            rows[key] = value
        }
        return try CollectionManifest.from(rows: rows, path: path)
    }

    static func bumpGeneration(_ db: Database) throws {
        try db.execute(sql: "UPDATE changes SET generation = generation + 1")
    }

    static func timestamp() -> String { ISO8601DateFormatter().string(from: Date()) }
}
