import Foundation
import EmbeddingRWKV
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
import RWKVSupport
#endif

/// A pthread read-write lock.
final class ReadWriteLock: @unchecked Sendable {
    private let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)
    init() { pthread_rwlock_init(lock, nil) }
    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }
    func read<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
    func write<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}

/// Reusable engine workspaces (their buffers are large; one per concurrent operation).
final class WorkspacePool: @unchecked Sendable {
    private var free: [Workspace] = []
    private let lock = NSLock()
    func take() -> Workspace {
        lock.lock()
        defer { lock.unlock() }
        return free.popLast() ?? Workspace()
    }
    func give(_ w: Workspace) {
        lock.lock()
        defer { lock.unlock() }
        if free.count < 4 { free.append(w) }
    }
}

/// Seconds of a duration (the store's files call it by this name).
func seconds(_ d: Duration) -> Double { d.seconds }

/// The duration of the last background job of a kind (written by its thread, read by the waiter).
final class SecondsRecord: @unchecked Sendable {  // `value` behind `lock`
    private let lock = NSLock()
    private var value = 0.0
    func record(_ seconds: Double) { lock.lock(); value = seconds; lock.unlock() }
    var last: Double { lock.lock(); defer { lock.unlock() }; return value }
}
