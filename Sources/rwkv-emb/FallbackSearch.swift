import Foundation
import RWKVHub

/// Where the CLI looks for the fallback test model: the package around the current directory, then
/// the package around the executable (`.build/<config>/rwkv-emb`), each found by walking up to a
/// folder with `Package.swift` (at most 12 levels).
enum FallbackSearch {
    static func candidates(currentDirectory: URL? = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true),
                           executable: URL? = currentExecutable) -> [URL] {
        [currentDirectory, executable?.resolvingSymlinksInPath().deletingLastPathComponent()].flatMap { start in
            packageRoots(around: start).map { $0.appendingPathComponent(FallbackModel.relativePath, isDirectory: true) }
        }
    }

    /// The folders holding a `Package.swift` from `start` upwards, nearest first (nested packages such
    /// as `Fuzz/` have no fixtures, so the search goes on past them).
    static func packageRoots(around start: URL?) -> [URL] {
        guard var folder = start?.standardizedFileURL else { return [] }
        var roots: [URL] = []
        for _ in 0..<12 {
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("Package.swift").path) { roots.append(folder) }
            let parent = folder.deletingLastPathComponent()
            if parent.path == folder.path { break }
            folder = parent
        }
        return roots
    }

    /// This process's executable, symbolic links resolved (nil if unknown).
    static var currentExecutable: URL? {
        #if os(Linux)
        let link = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        if link.path != "/proc/self/exe" { return link }
        #endif
        return Bundle.main.executableURL?.resolvingSymlinksInPath()
    }
}
