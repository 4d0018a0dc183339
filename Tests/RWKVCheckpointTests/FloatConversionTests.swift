import Testing
@testable import RWKVCheckpoint

@Suite struct FloatConversionTests {
    @Test func everyFiniteHalfSurvivesTheRoundTrip() {
        for bits in 0...UInt16.max where (bits & 0x7C00) != 0x7C00 {
            let value = FloatConversion.halfToFloat(bits)
            #expect(FloatConversion.floatToHalf(value) == bits, "0x\(String(bits, radix: 16))")
            if bits & 0x7FFF == 0 { continue }
        }
        #expect(FloatConversion.halfToFloat(0x3C00) == 1)
        #expect(FloatConversion.halfToFloat(0x0001) == Float.leastNonzeroMagnitude * 0 + 5.9604645e-8)
        #expect(FloatConversion.halfToFloat(0x7C00) == .infinity)
        #expect(FloatConversion.halfToFloat(0x7E00).isNaN)
    }

    @Test func roundingIsToNearestEven() {
        #expect(FloatConversion.floatToHalf(65520) == 0x7C00)        // rounds up to infinity
        #expect(FloatConversion.floatToHalf(65504) == 0x7BFF)
        #expect(FloatConversion.floatToHalf(1 + 1.0 / 2048) == 0x3C00) // halfway, stays even
        #expect(FloatConversion.floatToHalf(1 + 3.0 / 2048) == 0x3C02) // halfway, rounds to even
        #expect(FloatConversion.floatToBFloat16(Float(bitPattern: 0x3F80_8000)) == 0x3F80)
        #expect(FloatConversion.floatToBFloat16(Float(bitPattern: 0x3F81_8000)) == 0x3F82)
        #expect(FloatConversion.floatToBFloat16(.nan) & 0x7FC0 == 0x7FC0)
        #expect(FloatConversion.floatToHalf(1e-9) == 0)
    }
}
