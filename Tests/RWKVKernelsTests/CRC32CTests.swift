import Testing
import RWKVCheckpoint
import RWKVKernels

/// CRC-32C (the checksum of every segment region and record): the known value, the SSE4.2 and
/// table bodies agreeing, and continuation over a split.
@Suite struct CRC32CTests {
    @Test func crc32cKnownValueAndImplementationsAgree() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.portableChecksum(Array("123456789".utf8)) == 0xE306_9283)
        var rng = SeededGenerator(seed: 5)
        for n in [0, 1, 7, 8, 9, 63, 64, 1000, 4099] {
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(CRC32C.checksum(bytes) == CRC32C.portableChecksum(bytes), "\(n) bytes")
            // Continuing over a split equals one pass.
            let cut = n / 3
            #expect(CRC32C.checksum(Array(bytes[cut...]), continuing: CRC32C.checksum(Array(bytes[..<cut]))) == CRC32C.checksum(bytes))
        }
    }

    /// crc(A ++ B) from crc(A) and crc(B) alone, for the lengths compaction uses and odd ones, and
    /// chained over many parts (a sealed segment: header, then rows).
    @Test func concatenationFromThePartsCRCs() {
        var rng = SeededGenerator(seed: 8)
        for (a, b) in [(0, 1), (64, 3072), (5, 4099), (1000, 8), (64, 663_552)] {
            let first = (0..<a).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let second = (0..<b).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let joined = CRC32CConcatenation(length: b)
            #expect(joined.combine(CRC32C.checksum(first), CRC32C.checksum(second)) == CRC32C.checksum(first + second), "\(a) + \(b)")
        }
        let rows = (0..<50).map { _ in (0..<3072).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        let header = (0..<64).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let row = CRC32CConcatenation(length: 3072)
        let chained = rows.reduce(CRC32C.checksum(header)) { row.combine($0, CRC32C.checksum($1)) }
        #expect(chained == CRC32C.checksum(header + rows.flatMap { $0 }))
        // A flipped bit in one row's CRC is not absorbed.
        #expect(row.combine(CRC32C.checksum(header), CRC32C.checksum(rows[0]) ^ 1) != CRC32C.checksum(header + rows[0]))
    }
}
