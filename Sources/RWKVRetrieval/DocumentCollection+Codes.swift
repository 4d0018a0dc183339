import Foundation
import RWKVKernels

/// A collection's compressed embedding codes in this process (ANN kinds `int8` and `binary`), guarded by
/// `lock`: code row r belongs to passage `labels[r]` and is masked unless `live[r]`.
final class CodesState: @unchecked Sendable {  // all fields behind `lock`
    let lock = NSLock()
    var codes: EmbeddingCodes?
    var labels: [Int64] = []
    var live: [Bool] = []
    var liveCount = 0
    /// The highest passage id encoded: passage ids only grow, so the passages to append are those above it.
    var highest: Int64 = 0
    var origin: String?
    var dead: Int { labels.count - liveCount }

    /// Empty codes of `kind` (nil: none), with `origin`.
    func reset(_ kind: EmbeddingCodes.Kind?, dimension: Int, origin: String?) {
        codes = kind.map { EmbeddingCodes(kind: $0, dimension: dimension) }
        labels = []
        live = []
        liveCount = 0
        highest = 0
        self.origin = origin
    }
}

extension DocumentCollection {
    /// The share of dead code rows from which the codes are re-encoded from the live rows (as the HNSW
    /// graph's rebuild share; encoding is cheap next to a graph: `bench ann` encodes 1M int8 rows in seconds).
    static let codesRebuildDeadShare = 0.2

    /// Runs `body` on the codes of `kind`, encoded or brought up to the passage table first (the caller
    /// must not hold `rw`). Codes are not persisted: they are encoded from the mapped fp32 rows at the
    /// first search after an open, then kept current as passages are added and deleted.
    func withCodes<T>(_ kind: EmbeddingCodes.Kind, _ body: (CodesState) throws -> T) throws -> T {
        codes.lock.lock()
        defer { codes.lock.unlock() }
        catchUpCodes(kind)
        return try body(codes)
    }

    /// Caller holds `codes.lock`. Nothing to do when the table's count and highest id are the codes'
    /// (an add raises the highest id, a delete lowers the count; compaction changes neither, nor the ids).
    /// Otherwise: rows of passages gone are masked, passages above `highest` appended; the codes start
    /// over (all live rows) when the kind changed or dead rows reach `codesRebuildDeadShare`.
    private func catchUpCodes(_ kind: EmbeddingCodes.Kind) {
        if codes.codes?.kind == kind {
            let (count, maxID) = rw.read { (table.count, table.maxID) }
            if count == codes.liveCount && maxID == codes.highest { return }
            let missing: [Int64] = rw.read {
                for r in codes.labels.indices where codes.live[r] && table.byID[codes.labels[r]] == nil {
                    codes.live[r] = false
                    codes.liveCount -= 1
                }
                return table.byID.keys.filter { $0 > codes.highest }.sorted()
            }
            if Double(codes.dead) < Self.codesRebuildDeadShare * Double(max(1, codes.labels.count)) {
                appendCodes(missing)
                // Ids are never reused: the table's highest (perhaps a deleted passage's) is covered too.
                codes.highest = max(codes.highest, maxID)
                return
            }
        }
        let reason = codes.codes == nil ? "encoded at the first search" : codes.codes?.kind != kind ? "kind changed" : "re-encoded without \(codes.dead) dead rows"
        codes.reset(kind, dimension: dimension, origin: "built (\(reason))")
        appendCodes(rw.read { table.byID.keys.sorted() })
    }

    /// Caller holds `codes.lock`. Encodes the rows of `ids` (ascending).
    private func appendCodes(_ ids: [Int64]) {
        liveRowChunks(ids) { labels, matrix in
            matrix.withUnsafeBufferPointer { codes.codes!.append($0.baseAddress!, rows: labels.count) }
            codes.labels += labels
            codes.live += repeatElement(true, count: labels.count)
            codes.liveCount += labels.count
        }
        codes.highest = max(codes.highest, ids.last ?? 0)
    }

    /// The fp32 rows of the live passages among `ids`, copied from the mapped segments `chunk` at a time
    /// (each chunk under the read lock, `body` outside it, so writers and searches go on meanwhile):
    /// `body(labels, rows)` with the rows row-major in the labels' order.
    func liveRowChunks(_ ids: [Int64], chunk: Int = 16_384, _ body: ([Int64], [Float]) throws -> Void) rethrows {
        for start in stride(from: 0, to: ids.count, by: chunk) {
            var labels: [Int64] = []
            var matrix: [Float] = []
            matrix.reserveCapacity(min(chunk, ids.count - start) * dimension)
            rw.read {
                for id in ids[start..<min(ids.count, start + chunk)] {
                    guard let row = embeddingRowPointer(id) else { continue }
                    matrix.append(contentsOf: UnsafeBufferPointer(start: row, count: dimension))
                    labels.append(id)
                }
            }
            try body(labels, matrix)
        }
    }

    /// Caller holds `rw` (read). The mapped fp32 row of a live passage.
    func embeddingRowPointer(_ id: Int64) -> UnsafePointer<Float>? {
        guard let p = table.byID[id], let base = embSegments[p.embSegment]?.base else { return nil }
        return UnsafePointer((base + SegmentFile.headerSize + p.embRow * dimension * 4).assumingMemoryBound(to: Float.self))
    }

    /// The top `k` live passages among `allowed` (all when nil) by the codes pass over every code row
    /// (masked by the live rows and the filter, so it returns min(k, matching)), rescored with the fp32 rows.
    func codesSearch(_ kind: EmbeddingCodes.Kind, query: [Float], k: Int, allowed: PassageMask?, oversample: Int) throws -> [(id: Int64, score: Float)] {
        try withCodes(kind) { state in
            let codes = state.codes!, labels = state.labels, live = state.live
            return rw.read {
                // A passage deleted by a writer since the catch-up has no row: it is rescored against a
                // zero row and dropped below (the mask is a dictionary lookup per row otherwise).
                let zero = [Float](repeating: 0, count: dimension)
                return zero.withUnsafeBufferPointer { zeroRow in
                    let found = codes.search(query: query, k: k, oversample: oversample,
                                             row: { embeddingRowPointer(labels[$0]) ?? zeroRow.baseAddress! },
                                             include: { live[$0] && (allowed?.contains(labels[$0]) ?? true) })
                    return found.compactMap { table.byID[labels[$0.row]] == nil ? nil : (labels[$0.row], $0.score) }
                }
            }
        }
    }

    /// After a write: codes already encoded in this process follow it (cheap appends), so that the next
    /// search does not pay for a whole batch.
    func codesAfterWrite() {
        let wanted = annSettings.kind.codesKind  // before `codes.lock`: never ann.lock inside codes.lock
        codes.lock.lock()
        defer { codes.lock.unlock() }
        guard let kind = codes.codes?.kind, wanted == kind else { return }
        catchUpCodes(kind)
    }

    /// Drops the codes (settings changed to another kind).
    func dropCodes() {
        codes.lock.lock()
        defer { codes.lock.unlock() }
        codes.reset(nil, dimension: dimension, origin: nil)
    }

    /// The codes' part of `stats` (nil when none are encoded in this process).
    func codesStats() -> (kind: String, elements: Int, dead: Int, memoryBytes: Int, origin: String?)? {
        codes.lock.lock()
        defer { codes.lock.unlock() }
        guard let c = codes.codes else { return nil }
        // The codes, and per row its label (8 B) and live flag (1 B).
        return (c.kind.rawValue, c.count, codes.dead, c.bytes + codes.labels.count * 9, codes.origin)
    }
}
