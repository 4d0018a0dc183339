import GRDB

/// `passage_deletions`: the ids of the passages each commit removed (deleted documents, replaced
/// documents' old passages), with the generation that removed them. A reader in another process brings
/// its passage view up to date with a delta (drop these ids, add the rows above the highest id it holds)
/// instead of reloading the whole table after every deletion.
///
/// Compaction repoints passages to new segments, so readers reload fully after it; it empties the log and
/// leaves one marker row (passage 0: passage ids start at 1) at its generation, so that a reader that last
/// looked before the compaction knows the log no longer covers it.
enum PassageDeletionLog {
    static let tableName = "passage_deletions"
    /// `passage` = 0: the log was emptied at `generation`.
    static let resetMarker: Int64 = 0

    static let statements = [
        "CREATE TABLE IF NOT EXISTS passage_deletions (generation INTEGER NOT NULL, passage INTEGER NOT NULL)",
        "CREATE INDEX IF NOT EXISTS passage_deletions_by_generation ON passage_deletions(generation)",
    ]

    /// Creates the table (new collections, and writable opens of collections made before it existed).
    static func create(_ db: Database) throws {
        for sql in statements { try db.execute(sql: sql) }
    }

    /// Records the passages removed by the commit that produces `generation` (inside its transaction).
    static func record(_ db: Database, removed: [Int64], generation: Int64) throws {
        guard !removed.isEmpty else { return }
        let insert = try db.cachedStatement(sql: "INSERT INTO passage_deletions (generation, passage) VALUES (?, ?)")
        for id in removed { try insert.execute(arguments: [generation, id]) }
    }

    /// Empties the log at `generation` (compaction's transaction), leaving the reset marker.
    static func reset(_ db: Database, generation: Int64) throws {
        try db.execute(sql: "DELETE FROM passage_deletions")
        try db.execute(sql: "INSERT INTO passage_deletions (generation, passage) VALUES (?, ?)", arguments: [generation, resetMarker])
    }

    /// The passages removed after `generation`; nil when the log cannot say (no table: a collection from
    /// before it, opened read-only; or emptied since): the reader then reloads the whole table.
    static func removed(_ db: Database, after generation: Int64) throws -> [Int64]? {
        guard try db.tableExists(tableName) else { return nil }
        let ids = try Int64.fetchAll(db, sql: "SELECT passage FROM passage_deletions WHERE generation > ?", arguments: [generation])
        return ids.contains(resetMarker) ? nil : ids
    }
}
