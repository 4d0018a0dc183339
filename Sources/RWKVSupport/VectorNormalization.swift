/// `vector` scaled to unit L2 length; a zero vector is returned as it is. `minimumNorm` bounds the
/// divisor from below (the store uses 1e-12, so a near-zero vector is scaled, not blown up to unit length).
package func l2Normalized(_ vector: [Float], minimumNorm: Float = 0) -> [Float] {
    var v = vector
    v.withUnsafeMutableBufferPointer { if let p = $0.baseAddress { l2NormalizeInPlace(p, count: $0.count, minimumNorm: minimumNorm) } }
    return v
}

/// The same scaling in place, on `count` floats at `row` (rows of a matrix being generated or read).
package func l2NormalizeInPlace(_ row: UnsafeMutablePointer<Float>, count: Int, minimumNorm: Float = 0) {
    var sum: Float = 0
    for j in 0..<count { sum += row[j] * row[j] }
    let norm = max(minimumNorm, sum.squareRoot())
    guard norm > 0 else { return }
    for j in 0..<count { row[j] /= norm }
}
