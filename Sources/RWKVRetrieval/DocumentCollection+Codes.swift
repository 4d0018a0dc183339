import Foundation
import RWKVKernels

/// A collection's compressed embedding codes in this process (ANN kinds `int8` and `binary`), guarded by
/// `lock`: code row r belongs to passage `labels[r]`; `encoded` are the labels held.
final class CodesState: @unchecked Sendable {  // all fields behind `lock`
    let lock = NSLock()
    var codes: EmbeddingCodes?
    var labels: [Int64] = []
    var encoded = Set<Int64>()
    /// Code rows whose passage was deleted or replaced (masked at search until the next rebuild).
    var dead = 0
    var origin: String?
}

extension DocumentCollection {
    /// The share of dead code rows from which the codes are re-encoded from the live rows (as the HNSW
    /// graph's rebuild share; encoding is cheap next to a graph: `bench ann` encodes 1M int8 rows in seconds).
    static let codesRebuildDeadShare = 0.2

    /// Runs `body` on the codes of `kind`, encoded or brought up to the passage table first (the caller
    /// must not hold `rw`). Codes are not persisted: they are encoded from the mapped fp32 rows at the
    /// first search after an open, then kept current as passages are added and deleted.
    func withCodes<T>(_ kind: EmbeddingCodes.Kind, _ body: (EmbeddingCodes, [Int64]) throws -> T) throws -> T {
        codes.lock.lock()
        defer { codes.lock.unlock() }
        catchUpCodes(kind)
        return try body(codes.codes!, codes.labels)
    }

    /// Caller holds `codes.lock`. Encodes the live passages the codes lack, counts the labels gone, and
    /// starts over (all live rows) when the kind changed or dead rows pass `codesRebuildDeadShare`.
    private func catchUpCodes(_ kind: EmbeddingCodes.Kind) {
        let (missing, gone): ([Int64], Int) = rw.read {
            var missing: [Int64] = []
            for id in table.byID.keys where !codes.encoded.contains(id) { missing.append(id) }
            var gone = 0
            if codes.encoded.count - codes.dead + missing.count != table.count {
                for id in codes.encoded where table.byID[id] == nil { gone += 1 }
            }
            return (missing.sorted(), gone)
        }
        codes.dead = gone
        let rebuild = codes.codes?.kind != kind
            || (codes.dead > 0 && Double(codes.dead) >= Self.codesRebuildDeadShare * Double(codes.labels.count))
        if rebuild {
            let reason = codes.codes == nil ? "encoded at the first search" : codes.codes?.kind != kind ? "kind changed" : "re-encoded without \(codes.dead) dead rows"
            codes.codes = EmbeddingCodes(kind: kind, dimension: dimension)
            codes.labels = []
            codes.encoded = []
            codes.dead = 0
            codes.origin = "built (\(reason))"
            appendCodes(rw.read { table.byID.keys.sorted() })
        } else if !missing.isEmpty {
            appendCodes(missing)
        }
    }

    /// Caller holds `codes.lock`. Encodes the rows of `ids` (copied from the mapped segments in chunks).
    private func appendCodes(_ ids: [Int64]) {
        let chunk = 16_384
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
            matrix.withUnsafeBufferPointer { codes.codes!.append($0.baseAddress!, rows: labels.count) }
            codes.labels += labels
            codes.encoded.formUnion(labels)
        }
    }

    /// Caller holds `rw` (read). The mapped fp32 row of a live passage.
    func embeddingRowPointer(_ id: Int64) -> UnsafePointer<Float>? {
        guard let p = table.byID[id], let base = embSegments[p.embSegment]?.base else { return nil }
        return UnsafePointer((base + SegmentFile.headerSize + p.embRow * dimension * 4).assumingMemoryBound(to: Float.self))
    }

    /// The top `k` live passages among `allowed` (all when nil) by the codes pass over every code row
    /// (masked by the filter and the live view, so it returns min(k, matching)), rescored with the fp32 rows.
    func codesSearch(_ kind: EmbeddingCodes.Kind, query: [Float], k: Int, allowed: Set<Int64>?, oversample: Int) throws -> [(id: Int64, score: Float)] {
        try withCodes(kind) { codes, labels in
            rw.read {
                // `row` runs only for candidates `include` let through: live, with a mapped row.
                let found = codes.search(query: query, k: k, oversample: oversample, row: { r in embeddingRowPointer(labels[r])! },
                                         include: { r in
                    let id = labels[r]
                    return (allowed?.contains(id) ?? true) && embeddingRowPointer(id) != nil
                })
                return found.map { (labels[$0.row], $0.score) }
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
        codes.codes = nil
        codes.labels = []
        codes.encoded = []
        codes.dead = 0
        codes.origin = nil
    }

    /// The codes' part of `stats` (nil when none are encoded in this process).
    func codesStats() -> (kind: String, elements: Int, dead: Int, memoryBytes: Int, origin: String?)? {
        codes.lock.lock()
        defer { codes.lock.unlock() }
        guard let c = codes.codes else { return nil }
        // The codes, and per row its label (8 B) and its entry in the label set (~16 B).
        return (c.kind.rawValue, c.count, codes.dead, c.bytes + codes.labels.count * 24, codes.origin)
    }
}
