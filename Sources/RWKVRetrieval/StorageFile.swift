import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file written with pwrite at explicit offsets, made durable with fsync, and read through a shared
/// memory mapping. The mapping is reserved larger than the file (pages past the end are never touched)
/// so that appends rarely need a remap; `ensureMapped` must run with writers and readers excluded.
final class StorageFile: @unchecked Sendable {  // guarded by DocumentCollection's locks
    let path: String
    let fd: Int32
    let writable: Bool
    /// Bytes in use (the file may be longer after a crash until `truncate`).
    var size: Int
    private(set) var base: UnsafeMutableRawPointer?
    private var mapLength = 0

    init(path: String, writable: Bool, create: Bool) throws {
        self.path = path
        self.writable = writable
        let flags = writable ? (O_RDWR | (create ? O_CREAT : 0)) : O_RDONLY
        let fd = open(path, flags | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RetrievalError.errno(path, "open") }
        self.fd = fd
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            close(fd)
            throw RetrievalError.errno(path, "stat")
        }
        size = Int(st.st_size)
    }

    deinit {
        if let base { munmap(base, mapLength) }
        close(fd)
    }

    /// Actual length on disk.
    func fileLength() -> Int {
        var st = stat()
        return fstat(fd, &st) == 0 ? Int(st.st_size) : size
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw RetrievalError.errno(path, "write")
            }
            done += n
        }
        size = max(size, offset + bytes.count)
    }

    func write(_ bytes: [UInt8], at offset: Int) throws {
        try bytes.withUnsafeBytes { raw in try write(raw, at: offset) }
    }

    func read(at offset: Int, count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        try out.withUnsafeMutableBytes { raw in
            while done < count {
                let n = pread(fd, raw.baseAddress! + done, count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw RetrievalError.errno(path, "read")
                }
                if n == 0 { throw RetrievalError.corrupt(path: path, reason: "unexpected end of file at \(offset + done)") }
                done += n
            }
        }
        return out
    }

    /// Flushes data to stable storage.
    func sync() throws {
        #if os(Linux)
        guard fdatasync(fd) == 0 else { throw RetrievalError.errno(path, "fdatasync") }
        #else
        guard fsync(fd) == 0 else { throw RetrievalError.errno(path, "fsync") }
        #endif
    }

    func truncate(to length: Int) throws {
        guard ftruncate(fd, off_t(length)) == 0 else { throw RetrievalError.errno(path, "truncate") }
        size = length
    }

    /// Makes `base` valid for at least `size` bytes (remapping with room to grow when needed).
    func ensureMapped() throws {
        guard size > 0, size > mapLength || base == nil else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let length = max(1 << 24, (size * 2 + page - 1) / page * page)
        if let base { munmap(base, mapLength) }
        base = nil
        mapLength = 0
        let p = mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0)
        guard let p, p != MAP_FAILED else { throw RetrievalError.errno(path, "mmap") }
        base = p
        mapLength = length
    }
}

/// Flushes a directory entry (after creating or renaming files in it).
func syncDirectory(_ path: String) {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd >= 0 {
        _ = fsync(fd)
        close(fd)
    }
}
