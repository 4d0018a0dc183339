import Testing
import RWKVSupport

@Suite struct HalfPrecisionTests {
    @Test func everyFiniteHalfSurvivesTheRoundTrip() {
        for bits in 0...UInt16.max where (bits & 0x7C00) != 0x7C00 {
            let value = HalfFloat.decode(bits)
            #expect(HalfFloat.encode(value) == bits, "0x\(String(bits, radix: 16))")
        }
        #expect(HalfFloat.decode(0x3C00) == 1)
        #expect(HalfFloat.decode(0x0001) == 5.9604645e-8)
        #expect(HalfFloat.decode(0x7C00) == .infinity)
        #expect(HalfFloat.decode(0x7E00).isNaN)
    }

    @Test func roundingIsToNearestEven() {
        #expect(HalfFloat.encode(65520) == 0x7C00)        // rounds up to infinity
        #expect(HalfFloat.encode(65504) == 0x7BFF)
        #expect(HalfFloat.encode(1 + 1.0 / 2048) == 0x3C00) // halfway, stays even
        #expect(HalfFloat.encode(1 + 3.0 / 2048) == 0x3C02) // halfway, rounds to even
        #expect(BFloat.encode(Float(bitPattern: 0x3F80_8000)) == 0x3F80)
        #expect(BFloat.encode(Float(bitPattern: 0x3F81_8000)) == 0x3F82)
        #expect(BFloat.encode(.nan) & 0x7FC0 == 0x7FC0)
        #expect(HalfFloat.encode(1e-9) == 0)
    }

    @Test func saturatingEncodingStaysFinite() {
        #expect(HalfFloat.encodeSaturating(70000) == 0x7BFF)
        #expect(HalfFloat.encodeSaturating(-.infinity) == 0xFBFF)
        #expect(HalfFloat.encodeSaturating(.nan) == 0)
        #expect(HalfFloat.encodeSaturating(-0.0) == 0x8000)
        #expect(HalfFloat.encodeSaturating(0.1) == HalfFloat.encode(0.1))
    }

    /// The vectorised decoder (used for stored states) gives the scalar decoder's bits for every pattern.
    @Test func bufferDecodingMatchesScalarDecoding() {
        let all = (0...UInt16.max).map { $0 } + [0x3C00, 0x7C01]  // not a multiple of 16: the tail runs too
        var half = [Float](repeating: 0, count: all.count), brain = half
        all.withUnsafeBytes { raw in
            HalfFloat.decode(raw.baseAddress!, count: all.count, into: &half)
            BFloat.decode(raw.baseAddress!, count: all.count, into: &brain)
        }
        for (index, bits) in all.enumerated() {
            #expect(half[index].bitPattern == HalfFloat.decode(bits).bitPattern, "fp16 0x\(String(bits, radix: 16))")
            #expect(brain[index].bitPattern == UInt32(bits) << 16, "bf16 0x\(String(bits, radix: 16))")
        }
    }
}
