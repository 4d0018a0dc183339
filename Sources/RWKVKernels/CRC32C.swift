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
