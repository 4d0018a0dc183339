import Foundation

/// A fresh temporary directory, removed when the value is released (or earlier by `cleanUp()`).
public final class TemporaryDirectory: Sendable {
    public let url: URL

    public init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("rwkv-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func path(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Writes `text` at `name` (creating folders on the way).
    public func write(_ name: String, _ text: String) throws {
        let file = path(name)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: file)
    }

    public func cleanUp() { try? FileManager.default.removeItem(at: url) }

    deinit { cleanUp() }
}

/// max |a - b| over two equally long vectors (infinity when the lengths differ).
public func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// max |a - b| against float64 reference values.
public func maxAbsDiff(_ a: [Float], _ b: [Double]) -> Double {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).reduce(0) { max($0, abs(Double($1.0) - $1.1)) }
}
