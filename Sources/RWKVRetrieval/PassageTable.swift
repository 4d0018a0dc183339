import GRDB

/// A live passage as the search needs it: where its embedding row and state blob are.
struct LivePassage: Sendable {
    var id: Int64
    var document: String
    var ordinal: Int
    var start: Int
    var end: Int
    var embeddingTokens: Int
    var stateTokens: Int
    var embSegment: Int
    var embRow: Int
    var embCRC: UInt32
    var stateSegment: Int?
    var stateOffset: Int
    var stateLength: Int
    var stateCRC: UInt32

    static let columns = #"id, document, ordinal, start, "end", embedding_tokens, state_tokens, emb_segment, emb_row, emb_crc32c, state_segment, state_offset, state_length, state_crc32c"#

    /// Throws (never traps) on a value of the wrong type: the row may come from a damaged database.
    init(row: Row) throws {
        id = try row.decode(atIndex: 0)
        document = try row.decode(atIndex: 1)
        ordinal = try row.decode(atIndex: 2)
        start = try row.decode(atIndex: 3)
        end = try row.decode(atIndex: 4)
        embeddingTokens = try row.decode(atIndex: 5)
        stateTokens = try row.decode(atIndex: 6)
        embSegment = try row.decode(atIndex: 7)
        embRow = try row.decode(atIndex: 8)
        embCRC = UInt32(truncatingIfNeeded: try row.decode(Int64.self, atIndex: 9))
        stateSegment = try row.decode(atIndex: 10)
        stateOffset = try row.decode(Int?.self, atIndex: 11) ?? 0
        stateLength = try row.decode(Int?.self, atIndex: 12) ?? 0
        stateCRC = UInt32(truncatingIfNeeded: try row.decode(Int64?.self, atIndex: 13) ?? 0)
    }

    var hasState: Bool { stateSegment != nil && stateLength > 0 }
}

/// The in-memory view of the `passages` table a process searches with: loaded at open, then kept up to
/// date from `changes.generation` (see `DocumentCollection.refresh`).
struct PassageTable: Sendable {
    var byID: [Int64: LivePassage] = [:]
    /// A document's passage ids in ordinal order.
    var byDocument: [String: [Int64]] = [:]
    /// Per embedding segment: row -> passage id (0: a dead row; passage ids start at 1).
    var rowOwners: [Int: [Int64]] = [:]
    var maxID: Int64 = 0
    /// The `changes.generation` this view reflects (-1: nothing loaded).
    var generation: Int64 = -1
    /// Passages left out because their embedding row failed its CRC-32C or their stored fields are out
    /// of range: searched by no stage, reported in `SearchResult.damaged`.
    var damaged: [Int64: LivePassage] = [:]

    var count: Int { byID.count }

    // The arrays are changed in place through the dictionaries' subscripts: a `var` copy would make each
    // insert copy its segment's whole owner array (measured: quadratic, minutes for a 100k-passage reload).
    /// Adds (or replaces) a passage; `intact` false records it as damaged instead.
    mutating func insert(_ p: LivePassage, intact: Bool = true) {
        if byID[p.id] != nil || damaged[p.id] != nil { remove(p.id) }
        maxID = max(maxID, p.id)
        guard intact else {
            damaged[p.id] = p
            return
        }
        byID[p.id] = p
        let ordinal = p.ordinal
        let byID = self.byID
        let at = byDocument[p.document]?.firstIndex { (byID[$0]?.ordinal ?? 0) > ordinal }
        byDocument[p.document, default: []].insert(p.id, at: at ?? byDocument[p.document]?.count ?? 0)
        let missing = p.embRow + 1 - (rowOwners[p.embSegment]?.count ?? 0)
        if missing > 0 { rowOwners[p.embSegment, default: []].append(contentsOf: repeatElement(0, count: missing)) }
        rowOwners[p.embSegment]![p.embRow] = p.id
    }

    mutating func remove(_ id: Int64) {
        damaged[id] = nil
        guard let p = byID.removeValue(forKey: id) else { return }
        byDocument[p.document]?.removeAll { $0 == id }
        if byDocument[p.document]?.isEmpty == true { byDocument[p.document] = nil }
        if p.embRow < rowOwners[p.embSegment]?.count ?? 0, rowOwners[p.embSegment]![p.embRow] == id {
            rowOwners[p.embSegment]![p.embRow] = 0
        }
    }

    /// Live bytes per segment key ("ID.emb" / "ID.states").
    func liveBytes(dimension: Int) -> [String: Int] {
        var out: [String: Int] = [:]
        for p in byID.values {
            out["\(p.embSegment).emb", default: 0] += dimension * 4
            if let s = p.stateSegment { out["\(s).states", default: 0] += p.stateLength }
        }
        return out
    }
}
