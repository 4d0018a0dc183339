import Foundation
import RWKVKernels

/// One segment file (`segments/NNNNNN.emb` or `.states`): a 64-byte header, then embedding rows or
/// 64-byte-aligned state blobs. Written only past its committed length (`segments.bytes`), read
/// through a memory mapping; sealed segments are never written again.
final class SegmentFile: @unchecked Sendable {  // guarded by DocumentCollection's locks
    enum Kind: String, Sendable { case emb, states }

    static let headerSize = 64
    /// A new pair is started before a batch would pass these (the format's limits).
    static let maxRows = 65_536
    static let maxStateBytes = 4 << 30

    let id: Int
    let kind: Kind
    let file: StorageFile
    /// The committed length: readers never look past it.
    var committedBytes: Int

    var path: String { file.path }

    private init(id: Int, kind: Kind, file: StorageFile, committedBytes: Int) {
        self.id = id
        self.kind = kind
        self.file = file
        self.committedBytes = committedBytes
    }

    static func name(id: Int, kind: Kind) -> String { String(format: "%06d.", id) + kind.rawValue }

    static func url(in folder: URL, id: Int, kind: Kind) -> URL { folder.appendingPathComponent(name(id: id, kind: kind)) }

    /// The header: magic, version 2, id, four u32 fields, zeros, CRC-32C of bytes 0..<60.
    static func header(kind: Kind, id: Int, fields: [UInt32]) -> [UInt8] {
        var w = ByteWriter()
        w.bytes(Array((kind == .emb ? "RWE2" : "RWS2").utf8))
        w.u32(2)
        w.u64(UInt64(id))
        for f in fields.prefix(4) { w.u32(f) }
        for _ in fields.count..<4 { w.u32(0) }
        var bytes = w.data + [UInt8](repeating: 0, count: 60 - w.data.count)
        let crc = CRC32C.checksum(bytes)
        withUnsafeBytes(of: crc.littleEndian) { bytes += $0 }
        return bytes
    }

    /// Creates a new segment holding only its header (not referenced until a transaction says so);
    /// fsync'd with its directory entry unless `synced` is false, for a writer that fsyncs the whole file
    /// and then the directory itself before any transaction names it (compaction).
    static func create(in folder: URL, id: Int, kind: Kind, fields: [UInt32], synced: Bool = true) throws -> SegmentFile {
        let path = url(in: folder, id: id, kind: kind).path
        let f = try StorageFile(path: path, writable: true, create: true)
        try f.truncate(to: 0)
        try f.write(header(kind: kind, id: id, fields: fields), at: 0)
        if synced {
            try f.sync()
            syncDirectory(folder.path)
        }
        return SegmentFile(id: id, kind: kind, file: f, committedBytes: headerSize)
    }

    /// Opens a segment and checks its header (`fields` as the manifest implies). `legacy`: a version-1
    /// file (`embeddings.f32` / `states.bin`), whose 64-byte header has the same data layout after it.
    static func open(_ path: String, id: Int, kind: Kind, committedBytes: Int, fields: [UInt32],
                     writable: Bool, legacy: Bool = false) throws -> SegmentFile {
        let f = try StorageFile(path: path, writable: writable, create: false)
        guard f.size >= headerSize, f.size >= committedBytes else {
            throw RetrievalError.corrupt(path: path, reason: "\(f.size) bytes, the database refers to \(committedBytes)")
        }
        if !legacy {
            let h = try f.read(at: 0, count: headerSize)
            let expected = header(kind: kind, id: id, fields: fields)
            guard h == expected else {
                let crc = CRC32C.checksum(Array(h[0..<60]))
                let stored = h.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 60, as: UInt32.self).littleEndian }
                let reason = crc != stored ? "header checksum mismatch" : "header does not match the manifest (segment \(id), \(kind.rawValue))"
                throw RetrievalError.corrupt(path: path, reason: reason)
            }
        }
        if writable && f.size > committedBytes { try f.truncate(to: committedBytes) }  // an uncommitted tail
        f.size = committedBytes
        try f.ensureMapped()
        return SegmentFile(id: id, kind: kind, file: f, committedBytes: committedBytes)
    }

    /// Makes the mapping cover the committed length (after a commit by this or another process).
    func setCommitted(_ bytes: Int) throws {
        committedBytes = bytes
        file.size = max(file.size, bytes)
        try file.ensureMapped()
    }

    var base: UnsafeRawPointer? { file.base.map { UnsafeRawPointer($0) } }

    /// CRC-32C of the committed bytes (a sealed segment's checksum).
    func checksum() -> UInt32 {
        guard let base else { return 0 }
        return CRC32C.checksum(UnsafeRawBufferPointer(start: base, count: committedBytes))
    }
}
