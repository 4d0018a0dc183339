import Foundation

/// What a download reports while it runs.
public enum DownloadEvent: Sendable, Equatable {
    /// A file is being fetched: `resumedFrom` bytes were already there from an interrupted download.
    case started(file: String, total: Int64?, resumedFrom: Int64)
    /// `received` of `total` bytes are on disk.
    case progress(file: String, received: Int64, total: Int64?)
    /// An attempt failed and the download resumes (after a pause).
    case retrying(file: String, attempt: Int, reason: String)
    /// The file is verified and in place.
    case finished(file: String, url: URL, bytes: Int64)
    /// The file was already in the cache (nothing fetched).
    case alreadyCached(file: String, url: URL)
}

/// Receives download events (called from the downloading task; keep it quick).
public typealias DownloadProgressHandler = @Sendable (DownloadEvent) -> Void

/// Turns download events into text for a person: a redrawn bar (bytes, rate, ETA) when `interactive`
/// (a terminal), plain lines at every 10% otherwise (logs, pipes, CI). The caller decides where the
/// text goes and whether it is a terminal (the CLI: standard error).
public final class ProgressReporter: @unchecked Sendable {
    private let lock = NSLock()
    private let interactive: Bool
    private let write: @Sendable (String) -> Void
    private let clock: @Sendable () -> Double
    private var startTime = 0.0
    private var startBytes: Int64 = 0
    private var lastDraw = -1.0
    private var lastDecile = -1
    private var drewBar = false
    private let width = 30

    /// - Parameters:
    ///   - interactive: draw a bar redrawn in place (for a terminal).
    ///   - write: where the text goes.
    public init(interactive: Bool,
                write: @escaping @Sendable (String) -> Void,
                clock: (@Sendable () -> Double)? = nil) {
        self.interactive = interactive
        self.write = write
        self.clock = clock ?? { Date().timeIntervalSinceReferenceDate }
    }

    public var handler: DownloadProgressHandler { { [self] event in self.handle(event) } }

    public func handle(_ event: DownloadEvent) {
        lock.lock()
        defer { lock.unlock() }
        switch event {
        case let .started(file, total, resumedFrom):
            startTime = clock()
            startBytes = resumedFrom
            lastDraw = -1
            lastDecile = -1
            drewBar = false
            let size = total.map { " (\(ByteCount.format($0)))" } ?? ""
            let resume = resumedFrom > 0 ? ", resuming at \(ByteCount.format(resumedFrom))" : ""
            write("Downloading \(file)\(size)\(resume)\n")
        case let .progress(_, received, total):
            let now = clock()
            if interactive {
                let done = total.map { received >= $0 } ?? false
                guard done || now - lastDraw >= 0.1 else { return }
                lastDraw = now
                drewBar = true
                write("\r" + Self.bar(received: received, total: total, rate: rate(received, now), width: width) + "\u{1B}[K")
            } else if let total, total > 0 {
                let decile = Int(received * 10 / total)
                guard decile > lastDecile else { return }
                lastDecile = decile
                write(Self.line(received: received, total: total, rate: rate(received, now)) + "\n")
            }
        case let .retrying(file, attempt, reason):
            if drewBar { write("\n"); drewBar = false }
            write("Connection problem while downloading \(file) (\(reason)); resuming (attempt \(attempt))\n")
        case let .finished(file, url, bytes):
            if drewBar { write("\n"); drewBar = false }
            write("Downloaded \(file) (\(ByteCount.format(bytes)), sha256 verified) -> \(url.path)\n")
        case let .alreadyCached(file, url):
            write("\(file) is already cached: \(url.path)\n")
        }
    }

    private func rate(_ received: Int64, _ now: Double) -> Double? {
        let elapsed = now - startTime
        guard elapsed > 0.05 else { return nil }
        return Double(received - startBytes) / elapsed
    }

    /// `[=========>          ]  45%  45.2 MB / 100.0 MB  12.3 MB/s  ETA 0:05`
    public static func bar(received: Int64, total: Int64?, rate: Double?, width: Int = 30) -> String {
        var parts: [String] = []
        if let total, total > 0 {
            let fraction = min(1, max(0, Double(received) / Double(total)))
            let filled = Int(fraction * Double(width))
            let arrow = filled < width ? ">" : ""
            let body = String(repeating: "=", count: filled) + arrow
            parts.append("[" + body + String(repeating: " ", count: max(0, width - body.count)) + "]")
            parts.append(String(format: "%3d%%", Int(fraction * 100)))
            parts.append("\(ByteCount.format(received)) / \(ByteCount.format(total))")
        } else {
            parts.append(ByteCount.format(received))
        }
        if let rate, rate > 0 {
            parts.append("\(ByteCount.format(Int64(rate)))/s")
            if let total, total > received {
                parts.append("ETA " + duration(Double(total - received) / rate))
            }
        }
        return parts.joined(separator: "  ")
    }

    /// `  45% 45.2 MB / 100.0 MB (12.3 MB/s)` for logs.
    public static func line(received: Int64, total: Int64, rate: Double?) -> String {
        let percent = total > 0 ? Int(received * 100 / total) : 100
        let speed = rate.map { " (\(ByteCount.format(Int64($0)))/s)" } ?? ""
        return "  \(percent)% \(ByteCount.format(received)) / \(ByteCount.format(total))\(speed)"
    }

    /// `m:ss` or `h:mm:ss`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let total = Int(seconds.rounded(.up))
        let (hours, minutes, secs) = (total / 3600, (total % 3600) / 60, total % 60)
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, secs) : String(format: "%d:%02d", minutes, secs)
    }
}
