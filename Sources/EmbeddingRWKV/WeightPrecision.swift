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
    public var format: MatrixFormat {
        switch self {
        case .fp32, .auto: .fp32
        case .bf16: .bf16
        case .int8: .int8
        }
    }

    /// What a request becomes on a machine, and why when that is not what was asked.
    public struct Resolution: Sendable, Equatable {
        public var precision: WeightPrecision
        /// A sentence for the user when the result differs from the request or `auto` chose fp32; else nil.
        public var note: String?

        public init(precision: WeightPrecision, note: String?) {
            self.precision = precision
            self.note = note
        }
    }

    /// Resolves a request against the kernels a machine has. `forceFP32` (the caller's override, e.g. an
    /// environment variable read by the CLI) dispatches everything to fp32.
    ///
    /// `auto` is int8 where oneDNN's int8 GEMM runs (its fidelity bound, cosine >= 0.999 and logits within
    /// 5e-2 of fp32, is tested), else fp32: bf16 is never faster than fp32 with the kernels available (no
    /// native bf16 GEMM is wired in: see `MatrixFormat.bf16`), so auto never picks it.
    public func resolve(on kernels: MatrixKernels, forceFP32: Bool = false) -> Resolution {
        if forceFP32 {
            return Resolution(precision: .fp32, note: self == .fp32 ? nil : "\(rawValue) requested, fp32 forced: computing in fp32")
        }
        switch self {
        case .fp32, .bf16:
            return Resolution(precision: self, note: nil)
        case .int8:
            if kernels.hasInt8 { return Resolution(precision: .int8, note: nil) }
            return Resolution(precision: .fp32, note: "int8 needs oneDNN (libdnnl.so.2, `apt-get install libdnnl-dev`) on an AVX2 CPU; \(kernels): computing in fp32")
        case .auto:
            if kernels.hasInt8 { return Resolution(precision: .int8, note: nil) }
            return Resolution(precision: .fp32, note: "auto precision: fp32, because no faster kernel is available (\(kernels))")
        }
    }
}
