/// A content fingerprint of typed weights: the same values give the same fingerprint whichever
/// file format or storage dtype they came from (a bf16 .pth and its safetensors conversion agree).
/// For telling models apart (e.g. cached document states belong to one model); not cryptographic.
extension EmbeddingModelWeights {
    public func fingerprint() -> String { weightsFingerprint(kind: "embedding", architecture, namedTensors) }
}

extension RerankerWeights {
    public func fingerprint() -> String {
        weightsFingerprint(kind: "reranker \(layerIndices)", architecture, namedTensors)
    }
}

private func weightsFingerprint(kind: String, _ architecture: ModelArchitecture, _ tensors: [NamedTensor]) -> String {
    var hasher = WordHasher()
    hasher.add(kind + " " + architecture.description)
    for tensor in tensors {
        hasher.add(tensor.name + " \(tensor.shape)")
        tensor.values.withUnsafeBytes { hasher.add($0) }
    }
    return hasher.hexDigest
}

/// A fast 2 x 64-bit multiply-rotate hash over 8-byte words (murmur-style mixing).
private struct WordHasher {
    private var a: UInt64 = 0x9E37_79B9_7F4A_7C15
    private var b: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private var length: UInt64 = 0

    private mutating func mix(_ word: UInt64) {
        a = (a ^ (word &* 0x87C3_7B91_1142_53D5)).rotated(31) &* 0x4CF5_AD43_2745_937F
        b = (b &+ word).rotated(27) &* 0x9E37_79B9_7F4A_7C15 ^ a
    }

    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        let words = bytes.count / 8
        for index in 0..<words { mix(bytes.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)) }
        var tail: UInt64 = 0
        for index in (words * 8)..<bytes.count { tail = tail << 8 | UInt64(bytes[index]) }
        mix(tail ^ UInt64(bytes.count % 8) << 56)
        length &+= UInt64(bytes.count)
    }

    mutating func add(_ text: String) {
        var text = text
        text.withUTF8 { add(UnsafeRawBufferPointer($0)) }
    }

    var hexDigest: String {
        var x = a ^ length, y = b ^ (length << 1)
        for _ in 0..<3 {
            x = (x ^ (y >> 29)) &* 0xBF58_476D_1CE4_E5B9
            y = (y ^ (x >> 32)) &* 0x94D0_49BB_1331_11EB
        }
        return String(x, radix: 16).leftPadded(16) + String(y, radix: 16).leftPadded(16)
    }
}

private extension UInt64 {
    func rotated(_ count: UInt64) -> UInt64 { self << count | self >> (64 - count) }
}

private extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: Swift.max(0, width - count)) + self }
}
