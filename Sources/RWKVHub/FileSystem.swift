import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Small POSIX helpers (stat that follows links, atomic rename, free space, advisory locks).
enum FileSystem {
    /// The size of a regular file, following symbolic links; nil if there is none.
    static func regularFileSize(_ url: URL) -> Int64? {
        var info = stat()
        guard stat(url.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(info.st_size)
    }

    static func isDirectory(_ url: URL) -> Bool {
        var info = stat()
        return stat(url.path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Whether something (a link, even a dangling one) exists at the path.
    static func entryExists(_ url: URL) -> Bool {
        var info = stat()
        return lstat(url.path, &info) == 0
    }

    /// The last modification time, following links.
    static func modificationTime(_ url: URL) -> Double {
        var info = stat()
        guard stat(url.path, &info) == 0 else { return 0 }
        #if canImport(Darwin)
        return Double(info.st_mtimespec.tv_sec)
        #else
        return Double(info.st_mtim.tv_sec)
        #endif
    }

    /// rename(2): atomic within one file system, replaces the destination.
    static func rename(_ source: URL, to destination: URL) throws(HubError) {
        guard Foundation.rename(source.path, destination.path) == 0 else {
            throw .fileSystem(path: destination.path, reason: "cannot move \(source.lastPathComponent) into place: \(errnoText())")
        }
    }

    static func createDirectory(_ url: URL) throws(HubError) {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw .fileSystem(path: url.path, reason: "cannot create the folder: \(error.localizedDescription)")
        }
    }

    /// Points `link` at `destination` (a relative path), replacing what is there atomically.
    static func symlink(_ link: URL, to destination: String) throws(HubError) {
        let temporary = link.deletingLastPathComponent()
            .appendingPathComponent(".\(link.lastPathComponent).\(UUID().uuidString).tmp")
        guard Foundation.symlink(destination, temporary.path) == 0 else {
            throw .fileSystem(path: link.path, reason: "cannot create a symbolic link: \(errnoText())")
        }
        do {
            try rename(temporary, to: link)
        } catch {
            unlink(temporary.path)
            throw error
        }
    }

    /// Writes a small file atomically (temporary file + rename).
    static func writeAtomically(_ text: String, to url: URL) throws(HubError) {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try Data(text.utf8).write(to: temporary)
        } catch {
            throw .fileSystem(path: url.path, reason: error.localizedDescription)
        }
        do {
            try rename(temporary, to: url)
        } catch {
            unlink(temporary.path)
            throw error
        }
    }

    static func remove(_ url: URL) {
        unlink(url.path)
    }

    /// Free bytes for an unprivileged user on the file system of `url` (nil if unknown).
    static func availableSpace(_ url: URL) -> Int64? {
        var info = statvfs()
        guard statvfs(url.path, &info) == 0 else { return nil }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

    static func errnoText(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }
}

/// An exclusive advisory lock on a file (flock(2), the same lock Python's `filelock` takes on
/// `<cache>/.locks/models--OWNER--REPO/<etag>.lock`, so the two never download one blob at once).
final class FileLock {
    private let descriptor: Int32
    let url: URL

    /// Waits up to `timeout` seconds for the lock.
    init(_ url: URL, timeout: Double) async throws(HubError) {
        self.url = url
        try FileSystem.createDirectory(url.deletingLastPathComponent())
        let descriptor = open(url.path, O_RDWR | O_CREAT, 0o644)
        guard descriptor >= 0 else {
            throw .fileSystem(path: url.path, reason: "cannot open the lock file: \(FileSystem.errnoText())")
        }
        let deadline = Date().addingTimeInterval(timeout)
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard Date() < deadline else {
                close(descriptor)
                throw .lockTimeout(path: url.path)
            }
            try? await Task.sleep(nanoseconds: 200_000_000)
        }
        self.descriptor = descriptor
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
