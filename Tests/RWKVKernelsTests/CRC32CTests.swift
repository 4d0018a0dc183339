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
}
