import EmbeddingRWKV
import RWKVSupport

/// How cached document states are stored (chosen when a collection is created).
///
/// WKV matrices take almost all of a state's bytes; they are stored in the chosen precision.
/// Token-shift vectors (2 x C per layer) follow `tokenShift` (recorded in the manifest as `shiftPrecision`).
public enum StatePrecision: String, Sendable, CaseIterable, Codable {
    /// Exact: the reranker sees the same numbers as with a fresh state.
    case fp32
    /// IEEE half (values saturated to +-65504); relative error ~5e-4 per element.
    case fp16
    /// bfloat16 (fp32 range); relative error ~4e-3 per element.
    case bf16
    /// Signed 8-bit with one fp32 scale per 64-element row (scale = max |x| / 127).
    case int8
    /// Signed 4-bit (-7...7) with one fp16 scale per 64-element row (scale = max |x| / 7), two values
    /// per byte, low nibble first: 34 bytes per row, and int8 token shift: 332,352 bytes per 12-layer
    /// Tiny state (350,208 with an fp16 token shift, the layout of int4 collections made before the
    /// int8 one, still read; 368,640 with fp32 scales as well).
    case int4

    /// The token-shift precision a new collection of this state precision uses. With int4 the fp16
    /// token shift was 10.5% of the state (36,864 of 350,208 bytes for Tiny); int8 halves it at an
    /// error far below the int4 WKV's own.
    public var tokenShift: TokenShiftPrecision {
        switch self {
        case .fp32: .fp32
        case .fp16, .bf16, .int8: .fp16
        case .int4: .int8
        }
    }

    /// Bytes of one WKV row of 64 elements.
    var wkvRowBytes: Int {
        switch self {
        case .fp32: 256
        case .fp16, .bf16: 128
        case .int8: 64 + 4
        case .int4: 32 + 2
        }
    }

    var code: UInt32 {
        switch self {
        case .fp32: 0
        case .fp16: 1
        case .bf16: 2
        case .int8: 3
        case .int4: 4
        }
    }
}

/// How a state's token-shift vectors (2 x C per layer) are stored.
public enum TokenShiftPrecision: String, Sendable, CaseIterable, Codable {
    case fp32, fp16
    /// Signed 8-bit with one fp16 scale per 64 values (scale = max |x| / 127): the 2C/64 scales, then the values.
    case int8

    /// Bytes of the token shift of one layer of width `c` (a multiple of 64).
    func bytes(width c: Int) -> Int {
        switch self {
        case .fp32: 2 * c * 4
        case .fp16: 2 * c * 2
        case .int8: Self.int8Rows(width: c) * 2 + 2 * c
        }
    }

    /// 64-value rows of the int8 token shift of one layer of width `c`, one fp16 scale each.
    static func int8Rows(width c: Int) -> Int { 2 * c / 64 }
}

/// The byte layout of one stored state (see ARCHITECTURE.md, "states.bin"): for each layer,
/// the token shift [2C] (fp32, fp16, or int8: fp16 scales per 64 then values), then the WKV rows (H*64 rows of 64, in the engine's key-major
/// order): fp32/fp16/bf16 values, or for int8 all H*64 fp32 scales followed by the int8 values.
/// A blob is padded to a multiple of 64 bytes.
public struct StateCodec: Sendable, Equatable {
    public let precision: StatePrecision
    public let tokenShift: TokenShiftPrecision
    public let layerCount: Int
    public let embeddingSize: Int

    /// `tokenShift`: nil for what a new collection of `precision` uses (`precision.tokenShift`).
    public init(precision: StatePrecision, tokenShift: TokenShiftPrecision? = nil, layerCount: Int, embeddingSize: Int) {
        self.precision = precision
        self.tokenShift = tokenShift ?? precision.tokenShift
        self.layerCount = layerCount
        self.embeddingSize = embeddingSize
    }

    /// The codec of the states of a collection with `manifest`.
    init(manifest: CollectionManifest) throws {
        guard let shift = TokenShiftPrecision(rawValue: manifest.shiftPrecision) else {
            throw RetrievalError.invalidInput("the manifest's shiftPrecision \"\(manifest.shiftPrecision)\" is not one of "
                + TokenShiftPrecision.allCases.map(\.rawValue).joined(separator: ", "))
        }
        self.init(precision: manifest.statePrecision, tokenShift: shift, layerCount: manifest.stateLayers,
                  embeddingSize: manifest.dimension)
    }

    var rows: Int { embeddingSize }  // H * 64 rows per layer (H = C / 64)
    var shiftBytes: Int { tokenShift.bytes(width: embeddingSize) }
    var wkvBytes: Int { rows * precision.wkvRowBytes }
    var layerBytes: Int { shiftBytes + wkvBytes }
    /// Bytes of one encoded state without padding (what `stats` reports per document).
    public var payloadBytes: Int { layerCount * layerBytes }
    /// Bytes one state occupies in the file (64-byte aligned).
    public var blobBytes: Int { (payloadBytes + 63) / 64 * 64 }

    /// Writes `state` (at least `layerCount` layers; the first ones are stored) into `out` (`blobBytes`).
    public func encode(_ state: RWKVState, into out: UnsafeMutableRawPointer) {
        precondition(state.embeddingSize == embeddingSize && state.layerCount >= layerCount)
        let c = embeddingSize, stride = state.layerStride, wkvCount = rows * 64
        state.withUnsafeValues { values in
            let base = values.baseAddress!
            for l in 0..<layerCount {
                let src = base + l * stride
                let dst = out + l * layerBytes
                switch tokenShift {
                case .fp32: dst.copyMemory(from: src, byteCount: 2 * c * 4)
                case .fp16: Self.encodeHalves(src, count: 2 * c, into: dst, HalfFloat.encodeSaturating)
                case .int8:
                    let shiftRows = TokenShiftPrecision.int8Rows(width: c)
                    let scales = dst.assumingMemoryBound(to: UInt16.self)
                    let q = (dst + shiftRows * 2).assumingMemoryBound(to: Int8.self)
                    Self.quantizeRows(src, rows: shiftRows, limit: 127) { r, m in
                        Self.storeHalfScale(m / 127, at: scales + r)
                    } store: { r, i, v in q[r * 64 + i] = v }
                }
                let w = src + 2 * c, wd = dst + shiftBytes
                switch precision {
                case .fp32:
                    wd.copyMemory(from: w, byteCount: wkvCount * 4)
                case .fp16: Self.encodeHalves(w, count: wkvCount, into: wd, HalfFloat.encodeSaturating)
                case .bf16: Self.encodeHalves(w, count: wkvCount, into: wd, BFloat.encode)
                case .int8:
                    let scales = wd.assumingMemoryBound(to: Float.self)
                    let q = (wd + rows * 4).assumingMemoryBound(to: Int8.self)
                    Self.quantizeRows(w, rows: rows, limit: 127) { r, m in
                        let scale = m / 127
                        scales[r] = scale
                        return scale
                    } store: { r, i, v in q[r * 64 + i] = v }
                case .int4:
                    let scales = wd.assumingMemoryBound(to: UInt16.self)
                    let q = (wd + rows * 2).assumingMemoryBound(to: UInt8.self)
                    Self.quantizeRows(w, rows: rows, limit: 7) { r, m in
                        Self.storeHalfScale(m / 7, at: scales + r)
                    } store: { r, i, v in
                        // Two values a byte: the even one in the low nibble.
                        let nibble = UInt8(bitPattern: v) & 0x0F
                        if i % 2 == 0 { q[r * 32 + i / 2] = nibble } else { q[r * 32 + i / 2] |= nibble << 4 }
                    }
                }
            }
        }
        let pad = blobBytes - payloadBytes
        if pad > 0 { (out + payloadBytes).initializeMemory(as: UInt8.self, repeating: 0, count: pad) }
    }

    /// `count` values of `source` as 16-bit floats (fp16 or bf16, by `convert`) at `out`.
    @inline(__always)
    private static func encodeHalves(_ source: UnsafePointer<Float>, count: Int, into out: UnsafeMutableRawPointer,
                                     _ convert: (Float) -> UInt16) {
        let h = out.assumingMemoryBound(to: UInt16.self)
        for i in 0..<count { h[i] = convert(source[i]) }
    }

    /// Stores `scale` as fp16 and returns the value stored, so that values are quantised against what
    /// decode multiplies by.
    @inline(__always)
    private static func storeHalfScale(_ scale: Float, at slot: UnsafeMutablePointer<UInt16>) -> Float {
        let h = HalfFloat.encodeSaturating(scale)
        slot.pointee = h
        return HalfFloat.decode(h)
    }

    /// Symmetric quantisation of each of the `rows` 64-value rows of `w` to integers in -limit...limit: `scale` gets the
    /// row's index and its largest magnitude, stores the scale and returns the one values are divided
    /// by; `store` gets (row, column, value) in column order.
    @inline(__always)
    private static func quantizeRows(_ w: UnsafePointer<Float>, rows: Int, limit: Float,
                              scale: (Int, Float) -> Float, store: (Int, Int, Int8) -> Void) {
        for r in 0..<rows {
            let row = w + r * 64
            var m: Float = 0
            for i in 0..<64 { m = max(m, abs(row[i])) }
            let s = scale(r, m)
            let inv: Float = s > 0 ? 1 / s : 0
            for i in 0..<64 { store(r, i, Int8(max(-limit, min(limit, (row[i] * inv).rounded(.toNearestOrEven))))) }
        }
    }

    public func encode(_ state: RWKVState) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: blobBytes)
        bytes.withUnsafeMutableBytes { encode(state, into: $0.baseAddress!) }
        return bytes
    }

    /// Decodes a blob (at a 4-byte aligned address) into an fp32 state of `layerCount` layers.
    public func decode(_ blob: UnsafeRawPointer) -> RWKVState {
        var state = RWKVState(layerCount: layerCount, embeddingSize: embeddingSize)
        let c = embeddingSize, wkvCount = rows * 64, stride = state.layerStride
        state.withUnsafeMutableValues { values in
            let base = values.baseAddress!
            for l in 0..<layerCount {
                let dst = base + l * stride
                let src = blob + l * layerBytes
                switch tokenShift {
                case .fp32: UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: 2 * c * 4)
                case .fp16: HalfFloat.decode(src, count: 2 * c, into: dst)
                case .int8:
                    let shiftRows = TokenShiftPrecision.int8Rows(width: c)
                    let scales = src.assumingMemoryBound(to: UInt16.self)
                    let q = (src + shiftRows * 2).assumingMemoryBound(to: Int8.self)
                    for r in 0..<shiftRows { Self.decodeInt8Row(q + r * 64, scale: HalfFloat.decode(scales[r]), into: dst + r * 64) }
                }
                let ws = src + shiftBytes, w = dst + 2 * c
                switch precision {
                case .fp32: UnsafeMutableRawPointer(w).copyMemory(from: ws, byteCount: wkvCount * 4)
                case .fp16: HalfFloat.decode(ws, count: wkvCount, into: w)
                case .bf16: BFloat.decode(ws, count: wkvCount, into: w)
                case .int8:
                    let scales = ws.assumingMemoryBound(to: Float.self)
                    let q = (ws + rows * 4).assumingMemoryBound(to: Int8.self)
                    for r in 0..<rows { Self.decodeInt8Row(q + r * 64, scale: scales[r], into: w + r * 64) }
                case .int4:
                    let scales = ws.assumingMemoryBound(to: UInt16.self)
                    let q = (ws + rows * 2).assumingMemoryBound(to: UInt8.self)
                    for r in 0..<rows {
                        let s = SIMD16<Float>(repeating: HalfFloat.decode(scales[r]))
                        for part in 0..<4 {
                            let packed = UnsafeRawPointer(q + r * 32 + part * 8).loadUnaligned(as: SIMD8<UInt8>.self)
                            // Sign-extend each nibble: shift it to the top of an Int8, then arithmetic shift back.
                            let lo = SIMD8<Int8>(truncatingIfNeeded: packed &<< 4) &>> 4
                            let hi = SIMD8<Int8>(truncatingIfNeeded: packed) &>> 4
                            var v = SIMD16<Int8>()
                            for i in 0..<8 {
                                v[2 * i] = lo[i]
                                v[2 * i + 1] = hi[i]
                            }
                            let f = SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: v)) * s
                            UnsafeMutableRawPointer(w + r * 64 + part * 16).storeBytes(of: f, as: SIMD16<Float>.self)
                        }
                    }
                }
            }
        }
        return state
    }

    /// 64 int8 values times `scale` into `out`.
    @inline(__always)
    private static func decodeInt8Row(_ q: UnsafePointer<Int8>, scale: Float, into out: UnsafeMutablePointer<Float>) {
        let s = SIMD16<Float>(repeating: scale)
        for part in 0..<4 {
            let v = UnsafeRawPointer(q + part * 16).loadUnaligned(as: SIMD16<Int8>.self)
            let f = SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: v)) * s
            UnsafeMutableRawPointer(out + part * 16).storeBytes(of: f, as: SIMD16<Float>.self)
        }
    }

    public func decode(_ bytes: [UInt8]) -> RWKVState {
        bytes.withUnsafeBytes { decode($0.baseAddress!) }
    }
}
