import Testing
import RWKVCheckpoint
import RWKVKernels
import RWKVSupport
import RWKVTestSupport

/// The matrix kernels of each format against a float64 product of the same (rounded) values.
@Suite struct LinearWeightTests {
    static func product(_ x: [Float], _ w: [Double], m: Int, n: Int, k: Int) -> [Double] {
        var out = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { var s = 0.0; for t in 0..<k { s += Double(x[i * k + t]) * w[j * k + t] }; out[i * n + j] = s } }
        return out
    }

    static func run(_ weight: LinearWeight, _ x: [Float], m: Int, accumulateOnto start: [Float]? = nil) -> [Float] {
        var out = start ?? [Float](repeating: 0, count: m * weight.outputs)
        x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                weight.multiply(rows: m, x: xp.baseAddress!, ldx: weight.inputs, out: op.baseAddress!, ldo: weight.outputs,
                                accumulate: start != nil)
            }
        }
        return out
    }

    /// Rows 1 (columns split), 3 and 200 (rows split on 2+ cores) through every format.
    @Test(arguments: [1, 3, 200])
    func everyFormatMatchesItsRoundedReference(rows m: Int) throws {
        let n = 272, k = 768
        var rng = SeededGenerator(seed: UInt64(m))
        func value() -> Float { Float(Int(rng.next() % 20001) - 10000) / 10000 }
        let w = (0..<(n * k)).map { _ in value() }, x = (0..<(m * k)).map { _ in value() }
        let exact = Self.product(x, w.map(Double.init), m: m, n: n, k: k)
        let scale = exact.map(abs).max()!

        let fp32 = Self.run(LinearWeight(w, outputs: n, inputs: k, format: .fp32), x, m: m)
        #expect(maxAbsDiff(fp32, exact) <= 1e-5 * scale)

        // bf16: the product of the rounded weights, in fp32.
        let bf16Weights = w.map { Double(BFloat.decode(BFloat.encode($0))) }
        let widened = LinearWeight(w, outputs: n, inputs: k, format: .bf16)
        #expect(!widened.nativeBF16 && !widened.roundsActivations)
        let bf16 = Self.run(widened, x, m: m)
        let bf16Exact = Self.product(x, bf16Weights, m: m, n: n, k: k)
        #expect(maxAbsDiff(bf16, bf16Exact) <= 1e-5 * scale)
        if MatrixKernels.current.hasBF16GEMM {
            // oneDNN's bf16 matmul: activations rounded to bf16 too, products summed in fp32.
            let native = LinearWeight(w, outputs: n, inputs: k, format: .bf16, nativeBF16: true)
            #expect(native.nativeBF16 && native.roundsActivations)
            let xRounded = x.map { BFloat.decode(BFloat.encode($0)) }
            let nativeExact = Self.product(xRounded, bf16Weights, m: m, n: n, k: k)
            #expect(maxAbsDiff(Self.run(native, x, m: m), nativeExact) <= 1e-5 * scale)
            let base = (0..<(m * n)).map { Float($0 % 7) }
            let added = Self.run(native, x, m: m, accumulateOnto: base)
            #expect(zip(added, zip(base, Self.run(native, x, m: m))).map { abs($0 - ($1.0 + $1.1)) }.max()! <= 1e-5 * Float(scale))
        }

        try #require(MatrixKernels.current.hasInt8, "oneDNN is not installed")
        // int8: per-channel weights and per-row activations, both rounded; the int32 sums are exact.
        let range = LinearWeight.int8Range(for: .current)
        let weight = LinearWeight(w, outputs: n, inputs: k, format: .int8, int8Range: range)
        let int8 = Self.run(weight, x, m: m)
        var expected = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            let row = x[(i * k)..<((i + 1) * k)]
            let sa = Double(row.map(abs).max()! / 127)
            let qa = row.map { Double(Int(($0 * (127 / row.map(abs).max()!)).rounded(.toNearestOrEven))) }
            for j in 0..<n {
                let col = w[(j * k)..<((j + 1) * k)]
                let mw = col.map(abs).max()!
                let sw = Double(mw / Float(range))
                var s = 0.0
                for (t, c) in col.enumerated() { s += qa[t] * Double(Int((c * (Float(range) / mw)).rounded(.toNearestOrEven))) }
                expected[i * n + j] = s * sa * sw
            }
        }
        #expect(maxAbsDiff(int8, expected) <= 1e-5 * scale)
        // And near the fp32 product: the quantization error of a 768-long dot.
        #expect(maxAbsDiff(int8, exact) <= 0.03 * scale)
        // Accumulation adds onto what is there.
        let base = (0..<(m * n)).map { Float($0 % 7) }
        let added = Self.run(weight, x, m: m, accumulateOnto: base)
        #expect(zip(added, zip(base, int8)).map { abs($0 - ($1.0 + $1.1)) }.max()! <= 1e-5 * Float(scale))
    }

    /// A row's result has the same bits alone, in any batch and at any position: what keeps a text alone and
    /// in a batch rounding alike in int8 and native bf16 (the LoRAs' fp32 products and the projections).
    @Test func productsThatFeedARoundingAreRowInvariant() throws {
        try #require(MatrixKernels.current.hasInt8, "oneDNN is not installed")
        var rng = SeededGenerator(seed: 5)
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float(Int(rng.next() % 20001) - 10000) / 10000 } }
        for (n, k) in [(64, 768), (768, 64), (768, 768)] {
            let a = values(300 * k), b = values(k * n)
            func rows(_ first: Int, _ count: Int) -> [Float] {
                var c = [Float](repeating: .nan, count: count * n)
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        c.withUnsafeMutableBufferPointer { cp in
                            rowInvariantSgemm(m: count, n: n, k: k, a: ap.baseAddress! + first * k, lda: k, b: bp.baseAddress!,
                                              ldb: n, bTransposed: false, c: cp.baseAddress!, ldc: n)
                        }
                    }
                }
                return c
            }
            let all = rows(0, 300)
            for (first, count) in [(0, 1), (5, 1), (3, 7), (17, 16), (40, 33), (100, 200)] {
                #expect(rows(first, count) == Array(all[(first * n)..<((first + count) * n)]), "sgemm \(n)x\(k) rows \(first)+\(count)")
            }
            var formats: [LinearWeight] = [LinearWeight(b, outputs: n, inputs: k, format: .int8,
                                                        int8Range: LinearWeight.int8Range(for: .current))]
            if MatrixKernels.current.hasBF16GEMM { formats.append(LinearWeight(b, outputs: n, inputs: k, format: .bf16, nativeBF16: true)) }
            for weight in formats {
                let batch = Self.run(weight, a, m: 300)
                for (first, count) in [(0, 1), (5, 1), (3, 7), (100, 200)] {
                    let part = Self.run(weight, Array(a[(first * k)..<((first + count) * k)]), m: count)
                    #expect(part == Array(batch[(first * n)..<((first + count) * n)]), "\(weight.format) \(n)x\(k) rows \(first)+\(count)")
                }
            }
        }
    }
}
