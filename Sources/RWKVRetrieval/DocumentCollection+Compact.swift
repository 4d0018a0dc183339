import Foundation
import GRDB
import RWKVKernels

extension DocumentCollection {
    /// Rewrites the live embedding rows and states of the segment pairs whose dead share exceeds
    /// `minimumDeadShare` (any dead bytes by default; every pair with `all`) into new sealed segments,
    /// switches to them in one transaction and deletes the old files. Searches keep running meanwhile
    /// (in this and other processes: they see the old segments or the new ones, never a mix).
    @discardableResult
    public func compact(minimumDeadShare: Double = 0, all: Bool = false) throws -> CompactionReport {
        try requireWritable()
        writer.lock()
        defer { writer.unlock() }
        return try compactLocked(minimumDeadShare: minimumDeadShare, all: all)
    }

    /// Runs compaction when the policy says so (the caller holds `writer`).
    func compactIfNeeded() throws {
        guard let share = compaction.deadShare else { return }
        let s = stats()
        guard s.segmentBytes > 0, s.deadBytes >= compaction.minimumDeadBytes,
              Double(s.deadBytes) / Double(s.segmentBytes) > share else { return }
        try compactLocked(minimumDeadShare: share, all: false)
    }

    struct MovedPassage { var id: Int64; var emb: Int; var row: Int; var state: Int?; var offset: Int? }

    /// Repoints every moved passage in one statement, its moves bound as one JSON array of
    /// `[id, emb_segment, emb_row, state_segment, state_offset]` (the plan: scan the array, look each
    /// passage up by its rowid). Measured: one prepared UPDATE executed per passage was most of a
    /// 50,000-passage compaction.
    static let repointSQL = """
        UPDATE passages SET emb_segment = json_extract(m.value, '$[1]'), emb_row = json_extract(m.value, '$[2]'),
          state_segment = json_extract(m.value, '$[3]'), state_offset = json_extract(m.value, '$[4]')
        FROM json_each(?) AS m WHERE passages.id = json_extract(m.value, '$[0]')
        """

    static func movesJSON(_ moved: [MovedPassage]) -> String {
        var json = "["
        json.reserveCapacity(moved.count * 40 + 2)
        for (i, m) in moved.enumerated() {
            if i > 0 { json += "," }
            json += "[\(m.id),\(m.emb),\(m.row),\(m.state.map(String.init) ?? "null"),\(m.offset.map(String.init) ?? "null")]"
        }
        return json + "]"
    }

    /// Points the moved passages of this process's view at their new rows and blobs, swaps the segment
    /// pairs (measured: reloading the whole table instead took most of a 100k-passage compaction).
    private func applyCompaction(_ moved: [MovedPassage], pairs: [(SegmentFile, SegmentFile)], removed: Set<Int>,
                                 generation: Int64) throws {
        refreshLock.lock()
        let inStep: Bool = rw.write {
            for id in removed {
                embSegments[id] = nil
                stateSegments[id] = nil
                table.rowOwners[id] = nil
                sealedPairs.remove(id)
            }
            for (e, s) in pairs {
                embSegments[e.id] = e
                stateSegments[s.id] = s
                sealedPairs.insert(e.id)
            }
            for m in moved {
                guard var p = table.byID[m.id] else { continue }
                if !removed.contains(p.embSegment), p.embRow < table.rowOwners[p.embSegment]?.count ?? 0 {
                    table.rowOwners[p.embSegment]![p.embRow] = 0
                }
                p.embSegment = m.emb
                p.embRow = m.row
                if let state = m.state, let offset = m.offset {
                    p.stateSegment = state
                    p.stateOffset = offset
                }
                table.byID[m.id] = p
                let missing = m.row + 1 - (table.rowOwners[m.emb]?.count ?? 0)
                if missing > 0 { table.rowOwners[m.emb, default: []].append(contentsOf: repeatElement(0, count: missing)) }
                table.rowOwners[m.emb]![m.row] = m.id
            }
            let inStep = generation == table.generation + 1
            table.generation = inStep ? generation : -1
            return inStep
        }
        refreshLock.unlock()
        if !inStep { try refresh() }  // out of step (should not happen with one writer): reload
    }

    private struct PairUsage {
        var bytes = 0
        var live = 0
    }

    private func compactLocked(minimumDeadShare: Double, all: Bool) throws -> CompactionReport {
        let clock = ContinuousClock()
        let start = clock.now
        try refresh()
        let rowBytes = dimension * 4
        // Which pairs, and the live passages in them (in row order).
        let (chosen, moving, before): (Set<Int>, [LivePassage], (count: Int, bytes: Int)) = rw.read {
            var usage: [Int: PairUsage] = [:]
            for (id, seg) in embSegments { usage[id, default: .init()].bytes += seg.committedBytes - SegmentFile.headerSize }
            for (id, seg) in stateSegments { usage[id, default: .init()].bytes += seg.committedBytes - SegmentFile.headerSize }
            for p in table.byID.values {
                usage[p.embSegment, default: .init()].live += rowBytes
                if let s = p.stateSegment { usage[s, default: .init()].live += p.stateLength }
            }
            // A pair holding a damaged passage's bytes stays as it is, for `verify` to report and recompute.
            let held = Set(table.damaged.values.flatMap { [$0.embSegment] + ($0.stateSegment.map { [$0] } ?? []) })
            let chosen = Set(usage.filter { id, u in
                !held.contains(id) && (all || (u.bytes > u.live && Double(u.bytes - u.live) / Double(max(1, u.bytes)) > minimumDeadShare))
            }.keys)
            let moving = table.byID.values.filter { chosen.contains($0.embSegment) || ($0.stateSegment.map(chosen.contains) ?? false) }
                .sorted { ($0.embSegment, $0.embRow) < ($1.embSegment, $1.embRow) }
            let files = embSegments.count + stateSegments.count
            let bytes = embSegments.values.reduce(0) { $0 + $1.committedBytes } + stateSegments.values.reduce(0) { $0 + $1.committedBytes }
            return (chosen, moving, (files, bytes))
        }
        guard !chosen.isEmpty else {
            return CompactionReport(segmentsBefore: before.count, segmentsAfter: before.count, bytesBefore: before.bytes,
                                    bytesAfter: before.bytes, passagesMoved: 0, bytesCopied: 0, seconds: seconds(clock.now - start))
        }
        // 1. Copy into new pairs (new ids), fsync'd and sealed; nothing refers to them yet.
        var moved: [MovedPassage] = []
        var generation: Int64 = 0
        var created: [(SegmentFile, SegmentFile, UInt32, UInt32)] = []
        var copied = 0
        var nextID = try db.read { db in try Int.fetchOne(db, sql: "SELECT max(id) FROM segments") } ?? 0
        let planSeconds = seconds(clock.now - start)
        let copyStart = clock.now
        var copySeconds = 0.0, switchSeconds = 0.0
        do {
            var index = 0
            repeat {
                nextID += 1
                let e = try SegmentFile.create(in: segmentsURL, id: nextID, kind: .emb, fields: headerFields(.emb))
                let s = try SegmentFile.create(in: segmentsURL, id: nextID, kind: .states, fields: headerFields(.states))
                created.append((e, s, 0, 0))
                // The sealed checksums follow the bytes as they are written (headers included), so the
                // new files are not read back through fresh mappings.
                var embCRC = CRC32C.checksum(SegmentFile.header(kind: .emb, id: nextID, fields: headerFields(.emb)))
                var stateCRC = CRC32C.checksum(SegmentFile.header(kind: .states, id: nextID, fields: headerFields(.states)))
                var embBuffer: [UInt8] = [], stateBuffer: [UInt8] = []
                var embEnd = SegmentFile.headerSize, stateEnd = SegmentFile.headerSize
                var rows = 0
                // Buffered 32 MiB at a time: measured, one pwrite per row was 3x slower than a plain copy.
                func flush() throws {
                    if !embBuffer.isEmpty {
                        try e.file.write(embBuffer, at: embEnd)
                        embCRC = CRC32C.checksum(embBuffer, continuing: embCRC)
                        embEnd += embBuffer.count
                        embBuffer.removeAll(keepingCapacity: true)
                    }
                    if !stateBuffer.isEmpty {
                        try s.file.write(stateBuffer, at: stateEnd)
                        stateCRC = CRC32C.checksum(stateBuffer, continuing: stateCRC)
                        stateEnd += stateBuffer.count
                        stateBuffer.removeAll(keepingCapacity: true)
                    }
                }
                while index < moving.count {
                    let p = moving[index]
                    if rows + 1 > SegmentFile.maxRows || stateEnd + stateBuffer.count + p.stateLength > SegmentFile.maxStateBytes { break }
                    let row = rows
                    let offset = p.hasState ? stateEnd + stateBuffer.count : nil
                    rw.read {
                        // Typed byte buffers: Array appends them with one memcpy.
                        if let base = embSegments[p.embSegment]?.base {
                            embBuffer.append(contentsOf: UnsafeBufferPointer(start: (base + SegmentFile.headerSize + p.embRow * rowBytes)
                                .assumingMemoryBound(to: UInt8.self), count: rowBytes))
                        }
                        if p.hasState, let base = stateSegments[p.stateSegment!]?.base {
                            stateBuffer.append(contentsOf: UnsafeBufferPointer(start: (base + p.stateOffset).assumingMemoryBound(to: UInt8.self),
                                                                               count: p.stateLength))
                        }
                    }
                    moved.append(MovedPassage(id: p.id, emb: nextID, row: row, state: p.hasState ? nextID : nil, offset: offset))
                    rows += 1
                    index += 1
                    if embBuffer.count + stateBuffer.count >= 32 << 20 { try flush() }
                }
                try flush()
                try e.file.sync()
                try s.file.sync()
                e.committedBytes = embEnd
                s.committedBytes = stateEnd
                try e.setCommitted(embEnd)
                try s.setCommitted(stateEnd)
                copied += embEnd + stateEnd - 2 * SegmentFile.headerSize
                created[created.count - 1] = (e, s, embCRC, stateCRC)
            } while index < moving.count
            copySeconds = seconds(clock.now - copyStart)
            let switchStart = clock.now
            // 2. One transaction switches every moved passage to the new segments.
            let now = CollectionSchema.timestamp()
            try db.write { db in
                for (e, s, ec, sc) in created {
                    try db.execute(sql: "INSERT INTO segments (id, kind, sealed, bytes, crc32c, created) VALUES (?, 'emb', 1, ?, ?, ?)",
                                   arguments: [e.id, e.committedBytes, Int64(ec), now])
                    try db.execute(sql: "INSERT INTO segments (id, kind, sealed, bytes, crc32c, created) VALUES (?, 'states', 1, ?, ?, ?)",
                                   arguments: [s.id, s.committedBytes, Int64(sc), now])
                }
                try db.execute(sql: Self.repointSQL, arguments: [Self.movesJSON(moved)])
                for id in chosen { try db.execute(sql: "DELETE FROM segments WHERE id = ?", arguments: [id]) }
                try CollectionSchema.bumpGeneration(db)
                generation = try Int64.fetchOne(db, sql: "SELECT generation FROM changes") ?? 0
                try PassageDeletionLog.reset(db, generation: generation)
            }
            switchSeconds = seconds(clock.now - switchStart)
        } catch {
            for (e, s, _, _) in created {
                try? FileManager.default.removeItem(atPath: e.path)
                try? FileManager.default.removeItem(atPath: s.path)
            }
            throw RetrievalError.database(error, path: Self.databaseURL(url).path)
        }
        // 3. This process's view follows the moves it made (readers elsewhere reload); then the old files go.
        try applyCompaction(moved, pairs: created.map { ($0.0, $0.1) }, removed: chosen, generation: generation)
        for id in chosen {
            for kind in [SegmentFile.Kind.emb, .states] { try? FileManager.default.removeItem(atPath: segmentPath(id: id, kind: kind)) }
        }
        syncDirectory(segmentsURL.path)
        let annRebuild = startANNRebuildIfWasteful()
        let after: (Int, Int) = rw.read {
            (embSegments.count + stateSegments.count,
             embSegments.values.reduce(0) { $0 + $1.committedBytes } + stateSegments.values.reduce(0) { $0 + $1.committedBytes })
        }
        return CompactionReport(segmentsBefore: before.count, segmentsAfter: after.0, bytesBefore: before.bytes, bytesAfter: after.1,
                                passagesMoved: moved.count, bytesCopied: copied, seconds: seconds(clock.now - start),
                                planSeconds: planSeconds, copySeconds: copySeconds, switchSeconds: switchSeconds,
                                annRebuildStarted: annRebuild)
    }
}
