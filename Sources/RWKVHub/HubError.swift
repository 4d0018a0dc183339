import Foundation

/// Everything that can go wrong while turning a model name into checkpoint files.
///
/// Every case reads as a sentence a user can act on (`description`); none of them leaves a
/// partial model visible: a failed download keeps at most its resumable `.incomplete` blob.
public enum HubError: Error, Sendable, Equatable {
    /// The text is not an existing path, a known model name nor an `hf:OWNER/REPO/FILE[@revision]` reference.
    case unknownModel(String, known: [String])
    /// An `hf:` reference that does not parse.
    case invalidReference(String, reason: String)
    /// A path that was given does not exist.
    case pathNotFound(String)
    /// A directory that holds no checkpoint of the wanted kind.
    case noCheckpointInDirectory(directory: String, role: CheckpointRole)
    /// A directory that holds several checkpoints of the wanted kind.
    case ambiguousCheckpoint(directory: String, role: CheckpointRole, candidates: [String])
    /// No reranker is known to go with this model; give one explicitly.
    case noPairedReranker(model: String)
    /// `HF_HUB_OFFLINE` is set (or downloads are off) and the file is not in the local cache.
    case notCached(repo: String, file: String, revision: String, cache: String, offline: Bool)
    /// The Hub (or its CDN) could not be reached.
    case networkUnavailable(host: String, reason: String)
    /// The request timed out.
    case timedOut(host: String)
    /// 401: a token is missing or wrong.
    case unauthorized(repo: String, tokenSent: Bool)
    /// 403: the token has no access to this repository.
    case forbidden(repo: String)
    /// 404: no such repository, revision or file.
    case notFoundOnHub(repo: String, file: String, revision: String, detail: String?)
    /// Another unexpected HTTP status.
    case httpStatus(code: Int, url: String)
    /// The server answered without what the download needs (commit, etag, a valid redirect...).
    case invalidResponse(url: String, reason: String)
    /// The downloaded bytes do not hash to the sha256 the Hub announced.
    case checksumMismatch(file: String, expected: String, actual: String)
    /// The downloaded size differs from the announced one.
    case sizeMismatch(file: String, expected: Int64, actual: Int64)
    /// Not enough free disk space for the download (checked before and during writing).
    case insufficientSpace(path: String, needed: Int64, available: Int64?)
    /// A file-system operation failed.
    case fileSystem(path: String, reason: String)
    /// Another process holds the download lock of this file for too long.
    case lockTimeout(path: String)
    /// The download kept failing after every allowed attempt; the last reason is attached.
    case retriesExhausted(file: String, attempts: Int, lastError: String)
}

/// Which half of a model pair a checkpoint is.
public enum CheckpointRole: String, Sendable, Equatable {
    case embedding = "embedding model"
    case reranker = "reranker"
}

extension HubError: CustomStringConvertible, LocalizedError {
    public var description: String {
        switch self {
        case let .unknownModel(text, known):
            return "'\(text)' is neither an existing file or directory nor a known model name "
                + "(known: \(known.joined(separator: ", ")), or hf:OWNER/REPO/FILE[@revision])."
        case let .invalidReference(text, reason):
            return "Invalid model reference '\(text)': \(reason). Expected hf:OWNER/REPO/FILE[@revision]."
        case let .pathNotFound(path):
            return "No such file or directory: \(path)"
        case let .noCheckpointInDirectory(directory, role):
            return "No \(role.rawValue) checkpoint (.pth or .safetensors) found in \(directory)."
        case let .ambiguousCheckpoint(directory, role, candidates):
            return "Several \(role.rawValue) checkpoints in \(directory): \(candidates.joined(separator: ", ")). "
                + "Give the file itself."
        case let .noPairedReranker(model):
            return "No reranker is known to go with '\(model)'; name one explicitly."
        case let .notCached(repo, file, revision, cache, offline):
            let head = "\(file) of \(repo)@\(revision) is not in the local cache (\(cache))"
            return offline
                ? head + ", and HF_HUB_OFFLINE is set, so nothing is downloaded. Unset HF_HUB_OFFLINE and download it."
                : head + "; download it first."
        case let .networkUnavailable(host, reason):
            return "Cannot reach \(host): \(reason). Check the network (or set HF_HUB_OFFLINE=1 to use only cached models)."
        case let .timedOut(host):
            return "The connection to \(host) timed out."
        case let .unauthorized(repo, tokenSent):
            return tokenSent
                ? "The Hub refused the token for \(repo) (401). Check HF_TOKEN."
                : "\(repo) needs authentication (401). Set HF_TOKEN to a token with access to it."
        case let .forbidden(repo):
            return "Access to \(repo) is forbidden with this token (403); request access on the Hub or use another token."
        case let .notFoundOnHub(repo, file, revision, detail):
            let what = detail.map { " (\($0))" } ?? ""
            return "Not found on the Hub: \(file) in \(repo)@\(revision)\(what)."
        case let .httpStatus(code, url):
            return "Unexpected HTTP status \(code) from \(url)."
        case let .invalidResponse(url, reason):
            return "Unexpected answer from \(url): \(reason)."
        case let .checksumMismatch(file, expected, actual):
            return "Checksum mismatch for \(file): expected sha256 \(expected), got \(actual). The download was discarded; try again."
        case let .sizeMismatch(file, expected, actual):
            return "Size mismatch for \(file): expected \(expected) bytes, got \(actual). The download was discarded; try again."
        case let .insufficientSpace(path, needed, available):
            let free = available.map { ", \(ByteCount.format($0)) free" } ?? ""
            return "Not enough disk space in \(path): \(ByteCount.format(needed)) needed\(free)."
        case let .fileSystem(path, reason):
            return "File system error at \(path): \(reason)"
        case let .lockTimeout(path):
            return "Another process is downloading the same file (lock \(path)); try again when it is done."
        case let .retriesExhausted(file, attempts, lastError):
            return "Downloading \(file) failed after \(attempts) attempts: \(lastError) Run the command again to resume."
        }
    }

    public var errorDescription: String? { description }
}

/// Human-readable byte counts (decimal units, like the Hub's web pages).
public enum ByteCount {
    public static func format(_ bytes: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while abs(value) >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
    }
}
