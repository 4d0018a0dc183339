/// The recurrent state of an RWKV-7 stack after some tokens: per layer the token-shift pair [2][C]
/// (index 0: the time-mix input of the last token, 1: the channel-mix input) and the WKV matrices
/// [H][64][64] in fp32.
///
/// A value type (copy-on-write): copies are cheap until one is advanced. Storage is one block per
/// layer, `[shift 2C | wkv H*64*64]`, so slicing to a prefix of layers (what the reranker needs) is one copy.
/// The WKV matrices are stored key-major: element (i = value row, j = key column) of head h of layer l
/// is at `wkv(l)[h * 4096 + j * 64 + i]` (transposed against the reference layout; see `wkvReferenceLayout`).
public struct RWKVState: Sendable {
    public let layerCount: Int
    public let embeddingSize: Int
    public static let headSize = 64
    var storage: StateStorage

    public var headCount: Int { embeddingSize / Self.headSize }
    /// Floats per layer block.
    public var layerStride: Int { Self.layerStride(embeddingSize: embeddingSize) }
    static func layerStride(embeddingSize c: Int) -> Int { 2 * c + (c / headSize) * headSize * headSize }

    /// A zero state (what every text starts from).
    public init(layerCount: Int, embeddingSize: Int) {
        precondition(embeddingSize % Self.headSize == 0 && embeddingSize > 0 && layerCount >= 0)
        self.layerCount = layerCount
        self.embeddingSize = embeddingSize
        storage = StateStorage(count: layerCount * Self.layerStride(embeddingSize: embeddingSize), zeroed: true)
    }

    /// A state whose contents the caller overwrites entirely (the engine's output states).
    init(uninitializedLayers layerCount: Int, embeddingSize: Int) {
        self.layerCount = layerCount
        self.embeddingSize = embeddingSize
        storage = StateStorage(count: layerCount * Self.layerStride(embeddingSize: embeddingSize), zeroed: false)
    }

    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    /// The state of layers `layers` only (e.g. `0...maxRerankerLayer` for a cached document state).
    public func sliced(layers: Range<Int>) -> RWKVState {
        precondition(layers.lowerBound >= 0 && layers.upperBound <= layerCount, "layers \(layers) of \(layerCount)")
        let out = RWKVState(uninitializedLayers: layers.count, embeddingSize: embeddingSize)
        out.storage.pointer.update(from: storage.pointer + layers.lowerBound * layerStride, count: out.storage.count)
        return out
    }

    public func sliced(layers: ClosedRange<Int>) -> RWKVState { sliced(layers: Range(layers)) }

    /// All floats, layer blocks back to back (`layerCount * layerStride`).
    public var rawValues: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: storage.count)) }

    /// Token-shift state of a layer, [2][C].
    public func shift(layer: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: storage.pointer + layer * layerStride, count: 2 * embeddingSize))
    }

    /// WKV state of a layer, [H][64][64] key-major (the engine's layout).
    public func wkv(layer: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: storage.pointer + layer * layerStride + 2 * embeddingSize,
                                  count: headCount * Self.headSize * Self.headSize))
    }

    /// WKV state of a layer in the reference layout [H][i = value row][j = key column].
    public func wkvReferenceLayout(layer: Int) -> [Float] {
        let n = Self.headSize
        let src = storage.pointer + layer * layerStride + 2 * embeddingSize
        var out = [Float](repeating: 0, count: headCount * n * n)
        for h in 0..<headCount {
            for j in 0..<n { for i in 0..<n { out[h * n * n + i * n + j] = src[h * n * n + j * n + i] } }
        }
        return out
    }

    /// Read/write access to the raw floats (copy-on-write first).
    public mutating func withUnsafeMutableValues<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    public func withUnsafeValues<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try withExtendedLifetime(storage) {
            try body(UnsafeBufferPointer(start: storage.pointer, count: storage.count))
        }
    }
}

extension RWKVState: Equatable {
    public static func == (lhs: RWKVState, rhs: RWKVState) -> Bool {
        guard lhs.layerCount == rhs.layerCount, lhs.embeddingSize == rhs.embeddingSize else { return false }
        if lhs.storage === rhs.storage { return true }
        for i in 0..<lhs.storage.count where lhs.storage.pointer[i] != rhs.storage.pointer[i] { return false }
        return true
    }
}

/// The floats behind a state (shared between copies until one is mutated).
final class StateStorage: @unchecked Sendable {  // mutated only through a uniquely referenced RWKVState
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int, zeroed: Bool) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        if zeroed { pointer.initialize(repeating: 0, count: count) }
    }

    func copy() -> StateStorage {
        let c = StateStorage(count: count, zeroed: false)
        c.pointer.update(from: pointer, count: count)
        return c
    }

    deinit { pointer.deallocate() }
}
