import Foundation
import GRDB

/// The masks of the filters searched most recently, each valid for the one database generation it was
/// evaluated at (any commit, in any process, moves the generation on, so a hit is always exact). An
/// application tends to send the same filter again and again (a tenant, a user, a source), and
/// SQLite's evaluation costs about 1 µs per matching passage (100 ms at 100,000 matches: measured
/// on the metadata index's covering B-tree); Lucene's query cache keeps filter bitsets for the same reason.
final class FilterMaskCache: @unchecked Sendable {  // state behind `lock`
    struct Key: Hashable {
        var sql: String
        var arguments: [DatabaseValue]
        var generation: Int64
    }

    private let lock = NSLock()
    private var entries: [(key: Key, mask: PassageMask)] = []
    private var hitCount = 0
    /// At most this many masks, and at most `maximumBytes` of them (8 MiB: 64 filters at 1M passages).
    let capacity: Int
    let maximumBytes: Int

    init(capacity: Int = 16, maximumBytes: Int = 8 << 20) {
        self.capacity = capacity
        self.maximumBytes = maximumBytes
    }

    func mask(for key: Key) -> PassageMask? {
        lock.lock()
        defer { lock.unlock() }
        guard let i = entries.firstIndex(where: { $0.key == key }) else { return nil }
        hitCount += 1
        let entry = entries.remove(at: i)
        entries.append(entry)  // the most recent last
        return entry.mask
    }

    func insert(_ mask: PassageMask, for key: Key) {
        lock.lock()
        defer { lock.unlock() }
        entries.removeAll { $0.key == key || $0.key.generation != key.generation }  // older generations are never hit again
        entries.append((key, mask))
        var bytes = entries.reduce(0) { $0 + $1.mask.bytes }
        while entries.count > capacity || (bytes > maximumBytes && entries.count > 1) {
            bytes -= entries.removeFirst().mask.bytes
        }
    }

    /// The masks held, and the lookups answered from them.
    var counts: (entries: Int, hits: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (entries.count, hitCount)
    }
}
