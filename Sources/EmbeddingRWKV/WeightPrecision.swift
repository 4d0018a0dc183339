import RWKVKernels

/// The precision of the model's matrix products (the six projections of every block, in the embedding
/// model and the reranker). LayerNorm/GroupNorm, the recurrence, the LoRAs, the task and score heads and
/// all states stay fp32.
public enum WeightPrecision: String, Sendable, CaseIterable, Codable {
    case fp32, bf16, int8
    /// The fastest precision this machine runs whose fidelity bound holds (see `resolve`).
    case auto

    /// The dtype name `/info` reports (TEI's `model_dtype`).
    public var dtypeName: String {
        switch self {
        case .fp32, .auto: "float32"
        case .bf16: "bfloat16"
        case .int8: "int8"
        }
    }

    /// The storage format of the projections (`auto` resolves first; here it reads as fp32).
    package var format: MatrixFormat {
        switch self {
        case .fp32, .auto: .fp32
        case .bf16: .bf16
        case .int8: .int8
        }
    }

    /// What a request becomes on a machine, and why when that is not what was asked.
    public struct Resolution: Sendable, Equatable {
        public var precision: WeightPrecision
        /// A sentence for the user when the result differs from the request, `auto` chose fp32 or bf16 runs
        /// widened to fp32; else nil.
        public var note: String?

        public init(precision: WeightPrecision, note: String?) {
            self.precision = precision
            self.note = note
        }
    }

    /// Resolves a request against the kernels a machine has. `forceFP32` (the caller's override, e.g. an
    /// environment variable read by the CLI) dispatches everything to fp32.
    ///
    /// `auto` is int8 where oneDNN's int8 GEMM runs, else fp32. int8 meets every tested bound: cosine >= 0.999
    /// and logits within 5e-2 of fp32, and (since the LoRAs run row-invariant, `BlockStack.rowInvariantLoRAs`)
    /// offline vs online and alone vs batched exactly equal. bf16 meets its bounds too but is native only with
    /// AVX512-BF16/AMX (else widened: fp32 speed), and where both are native int8's GEMM rate is at least
    /// bf16's (VNNI/AMX do twice the int8 operations; single-thread Zen 5, loaded: 768x768 x 512 rows bf16 373
    /// vs int8 334 GFLOP/s, 3072x768 x 2048 rows 40 vs 72) at half bf16's weight memory, so auto picks int8.
    package func resolve(on kernels: MatrixKernels, forceFP32: Bool = false) -> Resolution {
        if forceFP32 {
            return Resolution(precision: .fp32, note: self == .fp32 ? nil : "\(rawValue) requested, fp32 forced: computing in fp32")
        }
        switch self {
        case .fp32:
            return Resolution(precision: .fp32, note: nil)
        case .bf16:
            if kernels.hasBF16GEMM { return Resolution(precision: .bf16, note: nil) }
            return Resolution(precision: .bf16, note: "bf16 has no native matmul on this CPU (oneDNN's needs AVX512-BF16 or AMX; \(kernels)): bf16 weights, products widened to fp32")
        case .int8:
            if kernels.hasInt8 { return Resolution(precision: .int8, note: nil) }
            return Resolution(precision: .fp32, note: "int8 needs oneDNN (libdnnl.so.2, `apt-get install libdnnl-dev`) on an AVX2 CPU; \(kernels): computing in fp32")
        case .auto:
            if kernels.hasInt8 { return Resolution(precision: .int8, note: nil) }
            return Resolution(precision: .fp32, note: "auto precision: fp32, because no faster kernel is available (\(kernels))")
        }
    }
}
