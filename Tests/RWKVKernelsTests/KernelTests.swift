import Testing
import RWKVKernels

/// The WKV kernel against the reference formula in the reference layout.
@Suite struct KernelTests {
    @Test func wkvKernelsMatchTheReferenceFormula() {
        let n = 64, tokens = 5, ld = 2 * n + 16
        var rng = SystemRandomNumberGenerator()
        func random(_ count: Int, _ lo: Float, _ hi: Float) -> [Float] { (0..<count).map { _ in Float.random(in: lo...hi, using: &rng) } }
        let r = random(tokens * ld, -1, 1), w = random(tokens * ld, 0.5, 1), k = random(tokens * ld, -1, 1)
        let v = random(tokens * ld, -1, 1), kk = random(tokens * ld, -0.2, 0.2), b = random(tokens * ld, -0.2, 0.2)
        let start = random(n * n, -1, 1)  // key-major

        // Reference: S[i][j] (value row i), S = S diag(w) + (S a) b^T + v k^T with a = -kk; y = S r.
        var s = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for i in 0..<n { for j in 0..<n { s[i][j] = Double(start[j * n + i]) } }
        var expectedY = [Double](repeating: 0, count: tokens * n)
        for t in 0..<tokens {
            let o = t * ld + 16  // a head that does not start at the row start
            for i in 0..<n {
                var sa = 0.0
                for j in 0..<n { sa += s[i][j] * -Double(kk[o + j]) }
                var y = 0.0
                for j in 0..<n {
                    s[i][j] = s[i][j] * Double(w[o + j]) + sa * Double(b[o + j]) + Double(v[o + i]) * Double(k[o + j])
                    y += s[i][j] * Double(r[o + j])
                }
                expectedY[t * n + i] = y
            }
        }

        var state = [Float](repeating: 0, count: n * n)
        var y = [Float](repeating: 0, count: tokens * n)
        r.withUnsafeBufferPointer { r in w.withUnsafeBufferPointer { w in k.withUnsafeBufferPointer { k in
        v.withUnsafeBufferPointer { v in kk.withUnsafeBufferPointer { kk in b.withUnsafeBufferPointer { b in
        start.withUnsafeBufferPointer { start in state.withUnsafeMutableBufferPointer { st in y.withUnsafeMutableBufferPointer { yp in
            wkv7(tokens: tokens, ld: ld, r: r.baseAddress! + 16, w: w.baseAddress! + 16, k: k.baseAddress! + 16,
                 v: v.baseAddress! + 16, kk: kk.baseAddress! + 16, b: b.baseAddress! + 16,
                 stateIn: start.baseAddress!, stateOut: st.baseAddress!, y: yp.baseAddress!, ldy: n)
        } } } } } } } } }
        var dy = 0.0, ds = 0.0
        for i in 0..<(tokens * n) { dy = max(dy, abs(Double(y[i]) - expectedY[i])) }
        for i in 0..<n { for j in 0..<n { ds = max(ds, abs(Double(state[j * n + i]) - s[i][j])) } }
        #expect(dy < 1e-4 && ds < 1e-4, "y \(dy), state \(ds)")
    }
}
