/// `vector` scaled to unit L2 length; a zero vector is returned as it is. `minimumNorm` bounds the
/// divisor from below (the store uses 1e-12, so a near-zero vector is scaled, not blown up to unit length).
package func l2Normalized(_ vector: [Float], minimumNorm: Float = 0) -> [Float] {
    let norm = max(minimumNorm, vector.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot())
    return norm > 0 ? vector.map { $0 / norm } : vector
}
