#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif
import RWKVKernelsC

/// How a weight matrix is stored and multiplied.
package enum MatrixFormat: String, Sendable, CaseIterable {
    /// fp32, OpenBLAS sgemm.
    case fp32
    /// bf16 (round to nearest even). Where oneDNN's bf16 matmul has a native kernel (AVX512-BF16, AMX):
    /// activations rounded to bf16 per call, bf16 x bf16 products accumulated in fp32 (`rwkv_linear_bf16`).
    /// Elsewhere (oneDNN 2.6.3 has no bf16 matmul on AVX2; Debian's OpenBLAS 0.3.21 does not export
    /// `cblas_sbgemm`) panels of 128 output channels are widened to fp32 per call and run through sgemm:
    /// half the memory, fp32 speed at best.
    case bf16
    /// int8 per output channel (scale max|w| / qmax), activations quantized per row to int8 at call time,
    /// oneDNN's s8s8s32 GEMM, int32 accumulators rescaled to fp32.
    case int8
}

/// An nn.Linear weight [outputs, inputs] stored once, at load, in the format its kernel reads.
/// Immutable after init (the raw storage is never moved), so workers can read it concurrently.
package final class LinearWeight: @unchecked Sendable {
    package let outputs: Int
    package let inputs: Int
    package let format: MatrixFormat
    /// For `.bf16`: whether the products run on oneDNN's bf16 matmul (else widened to fp32 for sgemm).
    package let nativeBF16: Bool
    private let fp32: UnsafeMutablePointer<Float>?
    private let bf16: UnsafeMutablePointer<UInt16>?
    private let int8: UnsafeMutablePointer<Int8>?
    private let scales: UnsafeMutablePointer<Float>?

    /// The largest |int8 weight|: 127 where int8 products accumulate in int32 (VNNI, AMX); 63 elsewhere,
    /// because `vpmaddubsw` (AVX2, AVX-512BW) adds pairs of u8 x s8 products in saturating int16:
    /// measured with oneDNN 2.6.3 on AVX2, |w| <= 64 is exact and 127 is off by 1.2e7 on a 768-long dot.
    package static func int8Range(for cpu: CPUFeatures) -> Int {
        cpu.contains(.avx512vnni) || cpu.contains(.amxInt8) ? 127 : 63
    }

    /// Converts `values` ([outputs][inputs] row-major fp32); `int8Range` only matters for `.int8`, `nativeBF16`
    /// (pass `MatrixKernels.hasBF16GEMM`) only for `.bf16`. The bf16 weights stay in this plain layout:
    /// oneDNN's runtime-row-count bf16 GEMM reads [n][k] as it is, so there is nothing to reorder.
    package init(_ values: [Float], outputs: Int, inputs: Int, format: MatrixFormat, int8Range: Int = 63,
                nativeBF16: Bool = false) {
        precondition(values.count == outputs * inputs, "weight has \(values.count) values, expected \(outputs) x \(inputs)")
        self.outputs = outputs
        self.inputs = inputs
        self.format = format
        self.nativeBF16 = format == .bf16 && nativeBF16 && rwkv_onednn_bf16_available() != 0
        let count = values.count
        var f: UnsafeMutablePointer<Float>? = nil, h: UnsafeMutablePointer<UInt16>? = nil
        var q: UnsafeMutablePointer<Int8>? = nil, s: UnsafeMutablePointer<Float>? = nil
        values.withUnsafeBufferPointer { src in
            let base = src.baseAddress!
            switch format {
            case .fp32:
                f = .allocate(capacity: max(count, 1))
                f!.initialize(from: base, count: count)
            case .bf16:
                h = .allocate(capacity: max(count, 1))
                rwkv_bf16_from_f32(count, base, h!)
            case .int8:
                q = .allocate(capacity: max(count, 1))
                s = .allocate(capacity: max(outputs, 1))
                rwkv_quantize_rows_int8(Int32(outputs), Int32(inputs), base, inputs, Int32(int8Range), q!, s!)
            }
        }
        fp32 = f; bf16 = h; int8 = q; scales = s
    }

    deinit {
        fp32?.deallocate(); bf16?.deallocate(); int8?.deallocate(); scales?.deallocate()
    }

    /// Whether the products round the activations (int8, native bf16): then a last-bit difference in the
    /// input becomes a whole rounding step now and then, and the fp32 products feeding it must be row-invariant.
    package var roundsActivations: Bool { format == .int8 || nativeBF16 }

    /// Bytes held.
    package var byteCount: Int {
        switch format {
        case .fp32: 4 * outputs * inputs
        case .bf16: 2 * outputs * inputs
        case .int8: outputs * inputs + 4 * outputs
        }
    }

    /// The fp32 weights (only for `.fp32`).
    package var floats: UnsafePointer<Float>? { fp32.map { UnsafePointer($0) } }

    /// out[m, outputs] (+)= x[m, inputs] W^T, split over the engine's workers like `parallelSgemm`.
    package func multiply(rows m: Int, x: UnsafePointer<Float>, ldx: Int, out: UnsafeMutablePointer<Float>, ldo: Int,
                         accumulate: Bool) {
        guard m > 0 else { return }
        if format == .fp32 {
            parallelSgemm(m: m, n: outputs, k: inputs, a: x, lda: ldx, b: fp32!, ldb: inputs, bTransposed: true,
                          c: out, ldc: ldo, beta: accumulate ? 1 : 0)
            return
        }
        if nativeBF16 {
            // The activations are rounded to bf16 once, before the split (all workers read them).
            guard let xb = rwkv_thread_scratch_bf16(m * inputs) else { fatalError("out of memory for bf16 activations") }
            for r in 0..<m { rwkv_bf16_from_f32(inputs, x + r * ldx, xb + r * inputs) }
            split(rows: m, out: out, ldo: ldo) { rows, columns, out in
                let status = rwkv_linear_bf16(Int32(rows.count), Int32(columns.count), Int32(inputs),
                                              xb + rows.lowerBound * inputs, bf16! + columns.lowerBound * inputs,
                                              out, ldo, accumulate ? 1 : 0)
                precondition(status == 0, "oneDNN bf16 matmul failed with status \(status)")
            }
            return
        }
        split(rows: m, out: out, ldo: ldo) { rows, columns, out in
            part(rows: rows.count, x: x + rows.lowerBound * ldx, ldx: ldx, columns: columns, out: out, ldo: ldo,
                 accumulate: accumulate)
        }
    }

    /// Splits rows x outputs over the workers (by rows when there are many, else by columns in multiples of 16);
    /// `body(rows, columns, out)` gets `out` already offset to its first row and column.
    private func split(rows m: Int, out base: UnsafeMutablePointer<Float>, ldo: Int,
                       _ body: (Range<Int>, Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
        let n = outputs
        let workers = KernelThreads.splitsGEMMs && 2 * m * n * inputs >= 4_000_000 ? KernelThreads.coreCount : 1
        if m >= 64 * workers {
            KernelThreads.parallel(workers) { w in
                let r = KernelThreads.range(w, of: workers, total: m)
                body(r, 0..<n, base + r.lowerBound * ldo)
            }
        } else {
            KernelThreads.parallel(workers) { w in
                let lo = (n * w / workers) & ~15, hi = w == workers - 1 ? n : (n * (w + 1) / workers) & ~15
                guard hi > lo else { return }
                body(0..<m, lo..<hi, base + lo)
            }
        }
    }

    /// One worker's share: output channels `columns` (out already offset to the first of them).
    private func part(rows m: Int, x: UnsafePointer<Float>, ldx: Int, columns: Range<Int>,
                      out: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool) {
        let k = inputs
        switch format {
        case .fp32:
            sgemm(m: m, n: columns.count, k: k, a: x, lda: ldx, b: fp32! + columns.lowerBound * k, ldb: k,
                  bTransposed: true, c: out, ldc: ldo, beta: accumulate ? 1 : 0)
        case .bf16:
            let panel = 128
            guard let scratch = rwkv_thread_scratch(panel * k) else { fatalError("out of memory for a bf16 panel") }
            var start = columns.lowerBound
            while start < columns.upperBound {
                let count = min(panel, columns.upperBound - start)
                rwkv_f32_from_bf16(count, k, bf16! + start * k, k, scratch, k)
                sgemm(m: m, n: count, k: k, a: x, lda: ldx, b: scratch, ldb: k, bTransposed: true,
                      c: out + (start - columns.lowerBound), ldc: ldo, beta: accumulate ? 1 : 0)
                start += count
            }
        case .int8:
            let status = rwkv_linear_int8(Int32(m), Int32(columns.count), Int32(k), x, ldx, int8! + columns.lowerBound * k,
                                          scales! + columns.lowerBound, out, ldo, accumulate ? 1 : 0)
            // Formats are only chosen where their kernel loaded (`MatrixKernels`); a failure here is a bug.
            precondition(status == 0, "oneDNN int8 GEMM failed with status \(status)")
        }
    }
}

/// Which matrix kernels this process can run: the CPU's features and whether oneDNN loaded.
package struct MatrixKernels: Sendable, CustomStringConvertible {
    package var cpu: CPUFeatures
    /// oneDNN's version when `libdnnl.so.2` loaded (the int8 GEMM), else nil.
    package var oneDNN: String?
    /// oneDNN's bf16 matmul kernel ("gemm:jit") where it has a native one on this CPU (AVX512-BF16, AMX), else nil.
    package var bf16Kernel: String?

    package init(cpu: CPUFeatures, oneDNN: String?, bf16Kernel: String? = nil) {
        self.cpu = cpu
        self.oneDNN = oneDNN
        self.bf16Kernel = oneDNN == nil ? nil : bf16Kernel
    }

    /// This machine (loads oneDNN on first use).
    package static var current: MatrixKernels {
        guard rwkv_onednn_available() != 0 else { return MatrixKernels(cpu: .current, oneDNN: nil) }
        return MatrixKernels(cpu: .current, oneDNN: rwkv_onednn_version().map { String(cString: $0) } ?? "unknown version",
                             bf16Kernel: rwkv_onednn_bf16_kernel().map { String(cString: $0) })
    }

    /// Whether int8 can run: oneDNN loaded and its int8 kernels have at least AVX2 to run on.
    package var hasInt8: Bool { oneDNN != nil && cpu.contains(.avx2) }

    /// Whether bf16 products run natively: oneDNN's bf16 matmul kernel (`bf16Kernel`) loaded. The bf16
    /// format still runs without: widened to fp32 for sgemm.
    package var hasBF16GEMM: Bool { oneDNN != nil && bf16Kernel != nil }

    package var description: String {
        let bf16 = bf16Kernel.map { ", bf16 matmul \($0)" } ?? ", no native bf16 matmul"
        return "cpu: \(cpu); oneDNN: \(oneDNN.map { "\($0) (int8 s8s8s32 GEMM\(bf16))" } ?? "not loaded")"
    }
}
