import RWKVCheckpoint

/// An immutable fp32 buffer the engine owns (16-byte aligned, never moved), so the hot loops can hold raw
/// pointers without array bounds checks, retain/release or copy-on-write checks.
final class WeightBuffer: @unchecked Sendable {  // immutable after init
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(_ values: [Float]) {
        count = values.count
        pointer = .allocate(capacity: max(count, 1))
        values.withUnsafeBufferPointer { pointer.initialize(from: $0.baseAddress!, count: count) }
    }

    convenience init(_ tensor: FloatTensor) { self.init(tensor.values) }

    /// Builds a buffer by concatenating vectors (e.g. the six token-shift mixes).
    convenience init(concatenating parts: [[Float]]) { self.init(parts.flatMap { $0 }) }

    deinit { pointer.deallocate() }

    var p: UnsafePointer<Float> { UnsafePointer(pointer) }
}
