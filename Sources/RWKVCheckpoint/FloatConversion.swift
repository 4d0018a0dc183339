import RWKVSupport

/// Checkpoint tensors (little-endian, any alignment) <-> fp32, with the non-finite check the loader
/// needs; the 16-bit formats go through the shared converter (`HalfFloat`, `BFloat`: round to nearest even, like PyTorch).
enum FloatConversion {
    /// Converts `count` little-endian values at `source` (any alignment) into `destination`.
    /// Returns false when any value is NaN or infinite.
    static func convert(_ dtype: TensorDType, from source: UnsafeRawPointer, count: Int, to destination: UnsafeMutablePointer<Float>) -> Bool {
        var nonFinite = false
        switch dtype {
        case .float32:
            for index in 0..<count {
                let bits = UInt32(littleEndian: source.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self))
                nonFinite = nonFinite || (bits & 0x7F80_0000) == 0x7F80_0000
                destination[index] = Float(bitPattern: bits)
            }
        case .bfloat16:
            for index in 0..<count {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: index &* 2, as: UInt16.self))
                nonFinite = nonFinite || (bits & 0x7F80) == 0x7F80
                destination[index] = BFloat.decode(bits)
            }
        case .float16:
            for index in 0..<count {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: index &* 2, as: UInt16.self))
                nonFinite = nonFinite || (bits & 0x7C00) == 0x7C00
                destination[index] = HalfFloat.decode(bits)
            }
        case .int64:
            return false
        }
        return !nonFinite
    }

    static func firstNonFinite(in values: UnsafePointer<Float>, count: Int) -> Int? {
        for index in 0..<count where !values[index].isFinite { return index }
        return nil
    }

    /// Encodes fp32 values as little-endian `dtype` bytes.
    static func encode(_ values: [Float], as dtype: TensorDType) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: values.count * dtype.byteSize)
        bytes.withUnsafeMutableBytes { out in
            switch dtype {
            case .float32:
                for (index, value) in values.enumerated() { out.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: index * 4, as: UInt32.self) }
            case .float16:
                for (index, value) in values.enumerated() { out.storeBytes(of: HalfFloat.encode(value).littleEndian, toByteOffset: index * 2, as: UInt16.self) }
            case .bfloat16:
                for (index, value) in values.enumerated() { out.storeBytes(of: BFloat.encode(value).littleEndian, toByteOffset: index * 2, as: UInt16.self) }
            case .int64:
                for (index, value) in values.enumerated() { out.storeBytes(of: (Int64(exactly: value.rounded()) ?? 0).littleEndian, toByteOffset: index * 8, as: Int64.self) }
            }
        }
        return bytes
    }
}
