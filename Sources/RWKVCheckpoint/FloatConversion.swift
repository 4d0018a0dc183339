/// Bit-exact conversions between the checkpoint float formats and fp32 (no Float16 type needed,
/// so this builds on every platform). fp32 -> fp16/bf16 rounds to nearest even, like PyTorch.
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
                destination[index] = Float(bitPattern: UInt32(bits) << 16)
            }
        case .float16:
            for index in 0..<count {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: index &* 2, as: UInt16.self))
                nonFinite = nonFinite || (bits & 0x7C00) == 0x7C00
                destination[index] = halfToFloat(bits)
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

    static func halfToFloat(_ half: UInt16) -> Float {
        let sign = UInt32(half & 0x8000) << 16
        let exponent = UInt32(half >> 10) & 0x1F
        var mantissa = UInt32(half & 0x3FF)
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }  // inf / NaN
        if exponent != 0 { return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13)) }
        if mantissa == 0 { return Float(bitPattern: sign) }
        // Subnormal half: normalise into an fp32 normal.
        var shift: UInt32 = 0
        while mantissa & 0x400 == 0 { mantissa <<= 1; shift += 1 }
        return Float(bitPattern: sign | ((113 - shift) << 23) | ((mantissa & 0x3FF) << 13))
    }

    static func floatToBFloat16(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x0040 }  // keep it a (quiet) NaN
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16((bits &+ rounding) >> 16)
    }

    static func floatToHalf(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        let exponent = Int((bits >> 23) & 0xFF)
        let mantissa = bits & 0x7F_FFFF
        if exponent == 0xFF { return sign | 0x7C00 | (mantissa != 0 ? 0x200 | UInt16(mantissa >> 13) : 0) }
        let halfExponent = exponent - 127 + 15
        if halfExponent >= 0x1F { return sign | 0x7C00 }  // overflow to infinity
        if halfExponent <= 0 {
            // Subnormal (or zero) half: shift the full significand, round to nearest even.
            if halfExponent < -10 { return sign }
            let significand = mantissa | 0x80_0000
            let shift = UInt32(14 - halfExponent)
            var result = significand >> shift
            let remainder = significand & ((1 << shift) - 1)
            let halfway = UInt32(1) << (shift - 1)
            if remainder > halfway || (remainder == halfway && result & 1 == 1) { result += 1 }
            return sign | UInt16(result)
        }
        var result = UInt32(halfExponent) << 10 | (mantissa >> 13)
        let remainder = mantissa & 0x1FFF
        if remainder > 0x1000 || (remainder == 0x1000 && result & 1 == 1) { result += 1 }  // may carry into inf: correct
        return sign | UInt16(result)
    }

    /// Encodes fp32 values as little-endian `dtype` bytes.
    static func encode(_ values: [Float], as dtype: TensorDType) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: values.count * dtype.byteSize)
        bytes.withUnsafeMutableBytes { out in
            switch dtype {
            case .float32:
                for (index, value) in values.enumerated() { out.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: index * 4, as: UInt32.self) }
            case .float16:
                for (index, value) in values.enumerated() { out.storeBytes(of: floatToHalf(value).littleEndian, toByteOffset: index * 2, as: UInt16.self) }
            case .bfloat16:
                for (index, value) in values.enumerated() { out.storeBytes(of: floatToBFloat16(value).littleEndian, toByteOffset: index * 2, as: UInt16.self) }
            case .int64:
                for (index, value) in values.enumerated() { out.storeBytes(of: (Int64(exactly: value.rounded()) ?? 0).littleEndian, toByteOffset: index * 8, as: Int64.self) }
            }
        }
        return bytes
    }
}
