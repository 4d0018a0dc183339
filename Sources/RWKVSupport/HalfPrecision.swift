/// The one fp32 <-> fp16 / bf16 converter (checkpoints, converted weights and stored states use it).
///
/// Rules, the same everywhere: fp32 -> 16 bits rounds to nearest even; an fp16 overflow becomes
/// infinity and NaN stays a quiet NaN (what PyTorch writes). Stores that must stay finite (cached
/// reranker states) use `encodeSaturating`: values clamp to +-65504 and NaN becomes 0.
/// Decoding is exact for every bit pattern (subnormals, infinities, NaN).
package enum HalfFloat {
    package static let largestFinite: Float = 65504

    package static func encode(_ value: Float) -> UInt16 {
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

    /// `encode` of the value clamped to +-65504; NaN becomes 0 (for stores that must stay finite).
    package static func encodeSaturating(_ value: Float) -> UInt16 {
        value.isNaN ? 0 : encode(min(max(value, -largestFinite), largestFinite))
    }

    package static func decode(_ half: UInt16) -> Float {
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

    /// 16 values at once: the magnitude bits moved into fp32 position and scaled by 2^112 rebias
    /// normals and subnormals alike; all-ones exponents (inf / NaN) are patched in.
    @inline(__always)
    package static func decode16(_ h: SIMD16<UInt16>) -> SIMD16<Float> {
        let x = SIMD16<UInt32>(truncatingIfNeeded: h)
        let sign = (x & 0x8000) &<< 16
        let magnitude = unsafeBitCast((x & 0x7FFF) &<< 13, to: SIMD16<Float>.self) * 0x1p112
        var bits = unsafeBitCast(magnitude, to: SIMD16<UInt32>.self) | sign
        let special = (x & 0x7C00) .== 0x7C00
        if any(special) { bits.replace(with: sign | 0x7F80_0000 | ((x & 0x3FF) &<< 13), where: special) }
        return unsafeBitCast(bits, to: SIMD16<Float>.self)
    }

    /// Decodes `count` values at `source` (any alignment, host byte order) into `destination`.
    package static func decode(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        var i = 0
        while i + 16 <= count {
            let v = source.loadUnaligned(fromByteOffset: i &* 2, as: SIMD16<UInt16>.self)
            UnsafeMutableRawPointer(destination + i).storeBytes(of: decode16(v), as: SIMD16<Float>.self)
            i += 16
        }
        while i < count {
            destination[i] = decode(source.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))
            i += 1
        }
    }
}

/// bfloat16 <-> fp32: the upper half of an fp32, rounded to nearest even; NaN stays a quiet NaN.
package enum BFloat {
    package static func encode(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x0040 }  // keep it a (quiet) NaN
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16((bits &+ rounding) >> 16)
    }

    @inline(__always)
    package static func decode(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// Decodes `count` values at `source` (any alignment, host byte order) into `destination`.
    package static func decode(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        var i = 0
        while i + 16 <= count {
            let v = SIMD16<UInt32>(truncatingIfNeeded: source.loadUnaligned(fromByteOffset: i &* 2, as: SIMD16<UInt16>.self))
            UnsafeMutableRawPointer(destination + i).storeBytes(of: unsafeBitCast(v &<< 16, to: SIMD16<Float>.self), as: SIMD16<Float>.self)
            i += 16
        }
        while i < count {
            destination[i] = decode(source.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))
            i += 1
        }
    }
}
