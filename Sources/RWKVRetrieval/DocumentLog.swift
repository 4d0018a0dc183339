/// The version-1 document log (`documents.log`), read to open and migrate version-1 collections. A 16-byte header
/// (`"RWDL"`, u32 version, 8 reserved bytes), then records appended one after another:
///
///     u32 magic "REC1" | u32 payload length | u32 CRC-32 of the payload | payload
///
/// A record only counts when it is complete and its checksum matches; opening a collection stops at
/// the first record that is not (the torn tail of a crash) and a writer truncates it away.
/// Payload (little-endian):
///
///     u8 kind (1 put, 2 delete) | u32 id length | id (UTF-8)
///     put: 32 bytes content SHA-256 | u32 state tokens | u32 embedding tokens | u64 embedding row
///          | u64 state offset | u64 state length (0: no state) | u32 text length | text
///          | u32 metadata length | metadata (JSON, may be empty)
enum DocumentLog {
    static let magic: [UInt8] = Array("RWDL".utf8)
    static let version: UInt32 = 1
    static let headerSize = 16
    static let recordMagic: UInt32 = 0x3143_4552  // "REC1" little-endian
    static let recordHeaderSize = 12

    enum Kind: UInt8 { case put = 1, delete = 2 }

    struct Put: Equatable {
        var id: String
        var contentHash: [UInt8]
        var stateTokens: Int
        var embeddingTokens: Int
        var row: Int
        var stateOffset: Int
        var stateLength: Int
        var text: String
        var metadata: String?
    }

    enum Record: Equatable {
        case put(Put)
        case delete(id: String)
    }

    static func header() -> [UInt8] {
        var w = ByteWriter()
        w.bytes(magic)
        w.u32(version)
        w.u64(0)
        return w.data
    }

    /// The encoded record and, for puts, the offset of the text within it.
    static func encode(_ record: Record) -> (bytes: [UInt8], textOffset: Int) {
        var p = ByteWriter()
        var textOffset = 0
        switch record {
        case let .put(d):
            p.u8(Kind.put.rawValue)
            p.string(d.id)
            p.bytes(d.contentHash)
            p.u32(UInt32(d.stateTokens))
            p.u32(UInt32(d.embeddingTokens))
            p.u64(UInt64(d.row))
            p.u64(UInt64(d.stateOffset))
            p.u64(UInt64(d.stateLength))
            textOffset = recordHeaderSize + p.data.count + 4
            p.string(d.text)
            p.string(d.metadata ?? "")
        case let .delete(id):
            p.u8(Kind.delete.rawValue)
            p.string(id)
        }
        var w = ByteWriter()
        w.u32(recordMagic)
        w.u32(UInt32(p.data.count))
        w.u32(CRC32.checksum(p.data))
        w.bytes(p.data)
        return (w.data, textOffset)
    }

    /// A decoded record with where its text lies in the file (for lazy reads).
    struct Scanned {
        var record: Record
        var offset: Int
        var textOffset: Int
        var textLength: Int
    }

    /// Reads records from `bytes` (the whole file) until the end or the first incomplete/damaged record.
    /// Returns the records and the length of the valid prefix.
    static func scan(_ bytes: UnsafeRawBufferPointer) -> (records: [Scanned], validLength: Int, headerValid: Bool) {
        guard bytes.count >= headerSize, Array(bytes[0..<4]) == magic else { return ([], 0, false) }
        var records: [Scanned] = []
        var offset = headerSize
        while offset + recordHeaderSize <= bytes.count {
            let m = bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian
            let length = Int(bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self).littleEndian)
            let crc = bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self).littleEndian
            let start = offset + recordHeaderSize
            guard m == recordMagic, start + length <= bytes.count else { break }
            let payload = UnsafeRawBufferPointer(rebasing: bytes[start..<start + length])
            guard CRC32.checksum(payload) == crc, let (record, textStart, textLength) = decode(payload) else { break }
            records.append(Scanned(record: record, offset: offset, textOffset: start + textStart, textLength: textLength))
            offset = start + length
        }
        return (records, offset, true)
    }

    static func decode(_ payload: UnsafeRawBufferPointer) -> (Record, Int, Int)? {
        var r = ByteReader(payload)
        guard let kindByte = r.u8(), let kind = Kind(rawValue: kindByte), let id = r.string() else { return nil }
        switch kind {
        case .delete:
            return (.delete(id: id), 0, 0)
        case .put:
            guard let hash = r.bytes(32), let st = r.u32(), let et = r.u32(), let row = r.u64(),
                  let so = r.u64(), let sl = r.u64() else { return nil }
            let textStart = r.offset + 4
            guard let text = r.string(), let meta = r.string() else { return nil }
            let put = Put(id: id, contentHash: hash, stateTokens: Int(st), embeddingTokens: Int(et), row: Int(row),
                          stateOffset: Int(so), stateLength: Int(sl), text: text, metadata: meta.isEmpty ? nil : meta)
            return (.put(put), textStart, text.utf8.count)
        }
    }
}

struct ByteWriter {
    var data: [UInt8] = []
    mutating func u8(_ v: UInt8) { data.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { data += $0 } }
    mutating func bytes(_ b: [UInt8]) { data += b }
    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        u32(UInt32(utf8.count))
        data += utf8
    }
}

struct ByteReader {
    let buffer: UnsafeRawBufferPointer
    var offset = 0
    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }
    mutating func u8() -> UInt8? {
        guard offset + 1 <= buffer.count else { return nil }
        defer { offset += 1 }
        return buffer[offset]
    }
    mutating func u32() -> UInt32? {
        guard offset + 4 <= buffer.count else { return nil }
        defer { offset += 4 }
        return buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian
    }
    mutating func u64() -> UInt64? {
        guard offset + 8 <= buffer.count else { return nil }
        defer { offset += 8 }
        return buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self).littleEndian
    }
    mutating func bytes(_ n: Int) -> [UInt8]? {
        guard n >= 0, offset + n <= buffer.count else { return nil }
        defer { offset += n }
        return Array(buffer[offset..<offset + n])
    }
    mutating func string() -> String? {
        guard let n = u32(), let b = bytes(Int(n)) else { return nil }
        return String(decoding: b, as: UTF8.self)
    }
}

/// CRC-32 (IEEE, reflected, the zlib one): checksums of version-1 log records (read for migration only).
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
        var c = ~initial
        table.withUnsafeBufferPointer { t in
            for b in bytes { c = t[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        }
        return ~c
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { checksum($0) } }
}
