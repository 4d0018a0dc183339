import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A small tmpfs mounted for a full-disk test (`mount -t tmpfs -o size=N`), unmounted when released.
/// Mounting needs root (CAP_SYS_ADMIN); where it is not permitted, `unavailableReason` says why and the
/// full-disk tests are skipped with that reason.
public final class Tmpfs {
    public let url: URL

    /// Why no tmpfs can be mounted here (nil: it can), found once by mounting a probe.
    public static let unavailableReason: String? = {
        do {
            _ = try Tmpfs(megabytes: 1)
            return nil
        } catch {
            return "\(error)"
        }
    }()

    public init(megabytes: Int) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("rwkv-tmpfs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let (status, output) = Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", url.path])
        guard status == 0 else {
            try? FileManager.default.removeItem(at: url)
            throw TmpfsError(message: "mount -t tmpfs failed (\(status)): \(output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    deinit {
        _ = Self.run("/bin/umount", ["-l", url.path])
        try? FileManager.default.removeItem(at: url)
    }

    /// Bytes still free on the file system.
    public var freeBytes: Int {
        var s = statvfs()
        guard statvfs(url.path, &s) == 0 else { return 0 }
        return Int(s.f_bavail) * Int(s.f_frsize)
    }

    /// Writes a filler file that leaves about `leaving` bytes free; remove it to free the space again.
    @discardableResult
    public func fill(leaving: Int, name: String = "filler") throws -> URL {
        let file = url.appendingPathComponent(name)
        let fd = open(file.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw TmpfsError(message: "cannot create \(file.path)") }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0x5a, count: 64 << 10)
        var left = max(0, freeBytes - leaving)
        while left > 0 {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress!, min(left, $0.count)) }
            if n <= 0 { break }
            left -= n
        }
        return file
    }

    private static func run(_ tool: String, _ arguments: [String]) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return (-1, "\(error)") }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, output)
    }
}

public struct TmpfsError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
