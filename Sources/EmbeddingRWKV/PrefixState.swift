import Foundation

/// A fixed start of many model inputs (a template or instruction) and the state after it, computed once:
/// every input whose ids start with these ids runs only the rest, from this state (the same ids through the
/// same recurrence). Inputs whose ids differ (greedy longest match can merge tokens across the boundary)
/// run whole, from the zero state.
public struct PrefixState: Sendable {
    public let ids: [Int]
    public let state: RWKVState

    /// Runs `ids` from the zero state of `layers` layers (all by default).
    public init(model: RWKVModel, ids: [Int], layers: Int? = nil) throws(RWKVError) {
        var state = model.zeroState(layers: layers)
        if !ids.isEmpty { _ = try model.forward(ids, state: &state) }
        self.ids = ids
        self.state = state
    }

    /// Where `input` starts and what is left to run: this state and the rest when `input` starts with the
    /// prefix's ids, else `zero` and the whole input.
    public func split(_ input: [Int], zero: RWKVState) -> (source: RWKVState, remainder: [Int]) {
        guard !ids.isEmpty && input.starts(with: ids) else { return (zero, input) }
        return (state, Array(input[ids.count...]))
    }
}

/// Prefix states by key (e.g. one per query instruction), made on first use; at most `capacity` kept
/// (the oldest made goes first).
final class PrefixStateCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [(key: String, prefix: PrefixState)] = []  // guarded by `lock`
    private let capacity: Int

    init(capacity: Int = 8) { self.capacity = capacity }

    func prefix(for key: String, make: () throws(RWKVError) -> PrefixState) throws(RWKVError) -> PrefixState {
        if let hit = lock.withLock({ entries.first { $0.key == key }?.prefix }) { return hit }
        let made = try make()  // outside the lock: a forward pass
        lock.withLock {
            guard !entries.contains(where: { $0.key == key }) else { return }
            if entries.count >= capacity { entries.removeFirst() }
            entries.append((key, made))
        }
        return made
    }
}
