import RWKVKernelsC

/// CRC-32C (Castagnoli): the collection store's checksum. SSE4.2 `crc32` instruction when the CPU has
/// it (picked at run time), else a slicing-by-8 table; both give the same values.
package enum CRC32C {
    package static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return rwkv_crc32c(crc, base, bytes.count)
    }

    package static func checksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: crc) }
    }

    /// The table implementation alone (what CPUs without SSE4.2 run).
    package static func portableChecksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { raw in raw.count > 0 ? rwkv_crc32c_portable(crc, raw.baseAddress!, raw.count) : crc }
    }

    /// "sse4.2" or "table": which implementation runs on this CPU (for benchmark output).
    package static var implementation: String { rwkv_crc32c_hardware() != 0 ? "sse4.2" : "table" }
}

/// CRC-32C of a concatenation from the parts' CRCs: crc(A ++ B) = L(crc(A)) ^ crc(B), where L appends
/// `length` (= B's length) zero bytes to the CRC register; L is linear, so it is tabulated once per length
/// on each byte of its argument (zlib's crc32_combine, with the tables kept). Compaction seals a new
/// segment from the stored CRCs of the rows it copies instead of reading the bytes a second time.
package struct CRC32CConcatenation: Sendable {
    package let length: Int
    private let table: [UInt32]  // 4 x 256: L applied to byte k of the argument

    package init(length: Int) {
        precondition(length > 0)
        self.length = length
        let zeros = [UInt8](repeating: 0, count: length)
        // L(x) = ~crc32c(~x, zeros): the implementation inverts the register on entry and exit.
        let bits = (0..<32).map { ~CRC32C.checksum(zeros, continuing: ~(UInt32(1) << UInt32($0))) }
        var t = [UInt32](repeating: 0, count: 4 * 256)
        for k in 0..<4 {
            for b in 1..<256 {
                var v: UInt32 = 0
                for bit in 0..<8 where b & (1 << bit) != 0 { v ^= bits[8 * k + bit] }
                t[k * 256 + b] = v
            }
        }
        table = t
    }

    /// crc(A ++ B) for crc(A) = `first`, crc(B) = `next`, B `length` bytes long.
    package func combine(_ first: UInt32, _ next: UInt32) -> UInt32 {
        table[Int(first & 0xFF)] ^ table[256 + Int((first >> 8) & 0xFF)] ^ table[512 + Int((first >> 16) & 0xFF)]
            ^ table[768 + Int(first >> 24)] ^ next
    }
}
