import Foundation
import GRDB

/// Errors of the retrieval collection: every message says what is wrong and with which path/id.
public enum RetrievalError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// The directory has no `collection.sqlite` / `collection.json` (or is not a directory).
    case notACollection(path: String)
    /// Creating a collection where one already exists.
    case alreadyExists(path: String)
    /// The collection's format version is not one this code reads.
    case unsupportedVersion(path: String, found: Int, supported: Int)
    /// The models given differ from the ones the collection was built with.
    case modelMismatch(collection: String, given: String)
    /// A configuration (protocol, precision) that differs from the collection's.
    case configurationMismatch(String)
    /// Another process holds the write lock.
    case locked(path: String)
    /// A system call failed.
    case io(path: String, operation: String, message: String)
    /// Stored bytes that cannot be read (beyond a torn tail, which is repaired silently).
    case corrupt(path: String, reason: String)
    /// Input documents that cannot be used.
    case invalidInput(String)
    /// An input file that is not UTF-8 text.
    case notText(path: String)
    /// The collection was opened read-only.
    case readOnly(path: String)
    /// Search or rerank needs models but none were given.
    case modelsRequired(String)
    /// A version-1 collection (read-only until migrated).
    case legacyFormat(path: String, version: Int)
    /// SQLite refused an operation.
    case database(path: String, message: String)
    /// Passage options out of range (the message names the option and the allowed range).
    case invalidPassageOptions(String)
    /// The file system holding the collection is full (ENOSPC, EDQUOT, SQLITE_FULL): the write was not
    /// committed, everything acknowledged before it is intact, reads still work.
    case storageFull(path: String)

    public var description: String {
        switch self {
        case let .notACollection(p): "\(p) is not a collection (no collection.sqlite)"
        case let .alreadyExists(p): "a collection already exists at \(p)"
        case let .unsupportedVersion(p, f, s): "\(p): collection format version \(f) is not supported (this build reads version \(s))"
        case let .modelMismatch(c, g): "model mismatch: the collection was built with \(c), but the given models are \(g); use the same checkpoints or a new collection"
        case let .configurationMismatch(s): "configuration mismatch: \(s)"
        case let .locked(p): "\(p) is being written by another process (lock held)"
        case let .io(p, op, m): "\(op) \(p): \(m)"
        case let .corrupt(p, r): "\(p) is damaged: \(r)"
        case let .invalidInput(s): s
        case let .notText(p): "\(p): not UTF-8 text"
        case let .readOnly(p): "\(p) was opened read-only"
        case let .modelsRequired(s): "models required: \(s)"
        case let .legacyFormat(p, v): "\(p) is a version-\(v) collection, which is read-only until it is migrated to version 2"
        case let .database(p, m): "\(p): SQLite: \(m)"
        case let .invalidPassageOptions(s): "invalid passage options: \(s)"
        case let .storageFull(p): "no space left on the file system holding \(p): the write was not committed (documents acknowledged before it are intact); free space and retry"
        }
    }

    public var errorDescription: String? { description }

    static func errno(_ path: String, _ operation: String) -> RetrievalError {
        let code = Foundation.errno
        if code == ENOSPC || code == EDQUOT { return .storageFull(path: path) }
        return .io(path: path, operation: operation, message: String(cString: strerror(code)))
    }

    /// A SQLite failure as a retrieval error (a full disk is `storageFull`, not a database fault).
    static func database(_ error: any Error, path: String) -> RetrievalError {
        if let e = error as? RetrievalError { return e }
        if let e = error as? DatabaseError, e.resultCode == .SQLITE_FULL { return .storageFull(path: path) }
        return .database(path: path, message: "\(error)")
    }
}
