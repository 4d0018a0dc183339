import ArgumentParser
import EmbeddingRWKV
import Foundation
import RWKVKernels

extension WeightPrecision: ExpressibleByArgument {}

/// The weight precision of the model's matrix products, for every command that loads a model.
enum PrecisionChoice {
    /// Set to anything but "" or "0": every precision runs as fp32 (a fallback to rule out the faster kernels).
    static let forceFP32Variable = "RWKV_EMB_FORCE_FP32"

    static let help = ArgumentHelp(
        "Weight precision of the matrix products: auto (the fastest this CPU runs within its tested fidelity "
            + "bound), fp32, bf16 or int8. \(forceFP32Variable)=1 forces fp32.",
        valueName: "precision")

    /// Resolves `requested` on this machine, printing one line on standard error when the result is not
    /// what was asked (or `auto` falls back to fp32) and why.
    static func resolve(_ requested: WeightPrecision) -> WeightPrecision {
        let value = ProcessInfo.processInfo.environment[forceFP32Variable] ?? ""
        let resolution = requested.resolve(on: .current, forceFP32: !(value.isEmpty || value == "0"))
        if let note = resolution.note { printError("note: \(note)") }
        return resolution.precision
    }
}
