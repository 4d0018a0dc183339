// Element-wise passes over contiguous float ranges, 16 lanes at a time (scalar-padded tail).

@inline(__always)
func mapInPlace(_ p: UnsafeMutablePointer<Float>, count: Int, _ f: (Vec16) -> Vec16) {
    var i = 0
    while i + 16 <= count {
        store16(f(load16(p + i)), p + i)
        i += 16
    }
    if i < count {
        var tail = Vec16()
        for l in 0..<(count - i) { tail[l] = p[i + l] }
        tail = f(tail)
        for l in 0..<(count - i) { p[i + l] = tail[l] }
    }
}

package func applyTanh(_ p: UnsafeMutablePointer<Float>, count: Int) {
    mapInPlace(p, count: count, vtanh)
}

package func applySigmoid(_ p: UnsafeMutablePointer<Float>, count: Int) {
    mapInPlace(p, count: count, vsigmoid)
}

/// relu(x)^2, the channel-mix activation.
package func applyReluSquare(_ p: UnsafeMutablePointer<Float>, count: Int) {
    mapInPlace(p, count: count) { x in
        let r = x.replacing(with: 0, where: x .< 0)
        return r * r
    }
}
