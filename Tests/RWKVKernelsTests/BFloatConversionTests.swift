import Testing
import RWKVKernelsC
import RWKVSupport

/// The engine's bf16 rounding (C, `rwkv_bf16_from_f32`: weights at load, activations per row) and the
/// one in RWKVSupport (`BFloat`: checkpoints and stored states) are two bodies of one rule, round to
/// nearest even with NaN kept quiet. This holds them to it, on the edge cases and on random bit patterns.
@Suite struct BFloatConversionTests {
    @Test func theKernelsRoundingIsBFloats() {
        var values: [Float] = [0, -0, 1, -1, .infinity, -.infinity, .nan, -.nan, .signalingNaN,
                               .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude,
                               .leastNormalMagnitude, Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0x3F81_8000),
                               Float(bitPattern: 0x7F7F_FFFF), Float(bitPattern: 0x7F80_0001), Float(bitPattern: 0xFFC0_0001)]
        var rng = SystemRandomNumberGenerator()
        values += (0..<100_000).map { _ in Float(bitPattern: UInt32.random(in: .min ... .max, using: &rng)) }
        var kernel = [UInt16](repeating: 0, count: values.count)
        rwkv_bf16_from_f32(values.count, values, &kernel)
        let differing = values.indices.filter { kernel[$0] != BFloat.encode(values[$0]) }
        #expect(differing.isEmpty, "\(differing.count) values round differently, e.g. bits \(differing.prefix(3).map { String(values[$0].bitPattern, radix: 16) })")

        var back = [Float](repeating: 0, count: values.count)
        rwkv_f32_from_bf16(1, kernel.count, kernel, kernel.count, &back, back.count)
        #expect(back.indices.allSatisfy { back[$0].bitPattern == BFloat.decode(kernel[$0]).bitPattern })
    }
}
