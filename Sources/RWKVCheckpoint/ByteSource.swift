import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes of a checkpoint: a read-only memory map of a file, or a private copy of in-memory data.
/// Tensors are read in place from here and converted straight into their final fp32 arrays.
final class ByteSource: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
    private let isMapped: Bool

    var count: Int { bytes.count }

    /// Maps `url` read-only (shared pages of the page cache, not a copy).
    init(mapping url: URL) throws {
        let path = url.path
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw CheckpointError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw CheckpointError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw CheckpointError.cannotOpen(path: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        guard size > 0 else { throw CheckpointError.truncated(what: "the first bytes (the file is empty)") }
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), address != MAP_FAILED else {
            throw CheckpointError.cannotOpen(path: path, reason: "mmap failed: " + String(cString: strerror(errno)))
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
        isMapped = true
    }

    /// Copies `data` (used by tests and fuzzing, and for checkpoints already in memory).
    init(copying data: Data) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(data.count, 1), alignment: 16)
        data.copyBytes(to: buffer)
        bytes = UnsafeRawBufferPointer(start: buffer.baseAddress, count: data.count)
        isMapped = false
    }

    deinit {
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
        } else {
            UnsafeMutableRawPointer(mutating: bytes.baseAddress)?.deallocate()
        }
    }

    /// Tells the kernel that the mapped pages fully inside `range` are no longer needed, so that
    /// converting a checkpoint does not keep the file's pages resident next to the fp32 copy.
    func releasePages(_ range: Range<Int>) {
        guard isMapped, let base = bytes.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0 else { return }
        let start = (range.lowerBound + page - 1) / page * page
        let end = range.upperBound / page * page
        guard start < end, end <= bytes.count + page else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, Int32(MADV_DONTNEED))
    }

    /// The first bytes, printable, for error messages.
    func prefixDescription(_ length: Int = 8) -> String {
        let shown = bytes.prefix(length)
        if shown.isEmpty { return "nothing (empty file)" }
        return shown.map { String(format: "%02x", $0) }.joined(separator: " ")
    }
}

/// Bounds-checked little-endian reads from a byte buffer.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer

    func require(_ offset: Int, _ length: Int, _ what: @autoclosure () -> String) throws {
        guard offset >= 0, length >= 0, offset <= bytes.count, length <= bytes.count - offset else {
            throw CheckpointError.truncated(what: what())
        }
    }

    func u8(_ offset: Int, _ what: @autoclosure () -> String) throws -> UInt8 {
        try require(offset, 1, what())
        return bytes[offset]
    }

    func u16(_ offset: Int, _ what: @autoclosure () -> String) throws -> Int {
        try require(offset, 2, what())
        return Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    func u32(_ offset: Int, _ what: @autoclosure () -> String) throws -> Int {
        try require(offset, 4, what())
        return Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
    }

    /// A u64 that must fit an Int (sizes beyond 2^63 are corrupt).
    func u64(_ offset: Int, _ what: @autoclosure () -> String) throws -> Int {
        try require(offset, 8, what())
        let value = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        guard value <= UInt64(Int.max) else { throw CheckpointError.arithmeticOverflow(what()) }
        return Int(value)
    }

    func string(_ offset: Int, _ length: Int, _ what: @autoclosure () -> String) throws -> String {
        try require(offset, length, what())
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length]), as: UTF8.self)
    }
}
