/// Serialised states: a 24-byte little-endian header, then the floats as little-endian fp32.
///
///     "RWKS"  magic
///     u32     format version (1)
///     u32     layerCount
///     u32     embeddingSize (C)
///     u32     headSize (64)
///     u32     layout (0: per layer [shift 2C | wkv H*64*64 key-major])
extension RWKVState {
    public static let serializationVersion: UInt32 = 1
    static let magic: [UInt8] = Array("RWKS".utf8)
    static let headerSize = 24

    /// The state as bytes (see the format above).
    public func serialized() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.headerSize + storage.count * 4)
        bytes.withUnsafeMutableBytes { raw in
            for (i, b) in Self.magic.enumerated() { raw[i] = b }
            let header: [UInt32] = [Self.serializationVersion, UInt32(layerCount), UInt32(embeddingSize),
                                    UInt32(Self.headSize), 0]
            for (i, v) in header.enumerated() {
                raw.storeBytes(of: v.littleEndian, toByteOffset: 4 + 4 * i, as: UInt32.self)
            }
            let src = storage.pointer
            for i in 0..<storage.count {
                raw.storeBytes(of: src[i].bitPattern.littleEndian, toByteOffset: Self.headerSize + 4 * i, as: UInt32.self)
            }
        }
        return bytes
    }

    /// Reads bytes written by `serialized()`.
    public init<Bytes: Collection>(serialized bytes: Bytes) throws(RWKVError) where Bytes.Element == UInt8 {
        let data = Array(bytes)
        guard data.count >= Self.headerSize, Array(data[0..<4]) == Self.magic else {
            throw .invalidStateData("not an RWKV state (bad magic or too short)")
        }
        func u32(_ offset: Int) -> Int {
            Int(UInt32(data[offset]) | UInt32(data[offset + 1]) << 8 | UInt32(data[offset + 2]) << 16 | UInt32(data[offset + 3]) << 24)
        }
        let version = u32(4), layers = u32(8), width = u32(12), headSize = u32(16), layout = u32(20)
        guard version == Int(Self.serializationVersion) else { throw .invalidStateData("unsupported version \(version)") }
        guard headSize == Self.headSize, width > 0, width % headSize == 0, layout == 0 else {
            throw .invalidStateData("unsupported shape: C \(width), head size \(headSize), layout \(layout)")
        }
        let count = layers * Self.layerStride(embeddingSize: width)
        guard data.count == Self.headerSize + 4 * count else {
            throw .invalidStateData("expected \(Self.headerSize + 4 * count) bytes, got \(data.count)")
        }
        self.init(uninitializedLayers: layers, embeddingSize: width)
        let dst = storage.pointer
        data.withUnsafeBytes { raw in
            for i in 0..<count {
                dst[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: Self.headerSize + 4 * i, as: UInt32.self)))
            }
        }
    }
}
