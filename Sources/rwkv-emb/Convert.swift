import ArgumentParser
import Foundation
import RWKVCheckpoint

/// `rwkv-emb convert IN OUT`: a PyTorch `.pth` (or safetensors) checkpoint to safetensors.
struct Convert: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a .pth checkpoint to safetensors (same names; same dtypes and bytes unless --dtype casts).")

    enum DTypeChoice: String, ExpressibleByArgument, CaseIterable {
        case keep, f32, f16, bf16
        var dtype: TensorDType? {
            switch self {
            case .keep: nil
            case .f32: .float32
            case .f16: .float16
            case .bf16: .bfloat16
            }
        }
    }

    @Argument(help: "The checkpoint to read (.pth or .safetensors; recognised by content).")
    var input: String

    @Argument(help: "The safetensors file to write.")
    var output: String

    @Option(help: "Storage dtype of the output: keep, f32, f16 or bf16 (rounded to nearest even).")
    var dtype: DTypeChoice = .keep

    func run() async throws {
        let inputURL = URL(fileURLWithPath: input), outputURL = URL(fileURLWithPath: output)
        guard inputURL.standardizedFileURL.path != outputURL.standardizedFileURL.path else {
            throw ValidationError("the output must be a different file from the input")
        }
        let start = Date()
        let summary = try CheckpointConversion.convert(inputURL, to: outputURL, dtype: dtype.dtype)
        // Check the result the way the engine will read it.
        let written = try CheckpointFile(contentsOf: outputURL)
        let kind = written.kind
        switch kind {
        case .embedding: _ = try written.embeddingWeights()
        case .reranker: _ = try written.rerankerWeights()
        case .unknown: break
        }
        print("converted \(summary.tensorCount) tensors (\(summary.format.rawValue) -> safetensors, \(summary.dtypes.joined(separator: ", "))), "
              + "\(kind.rawValue) checkpoint, in \(String(format: "%.2f", Date().timeIntervalSince(start))) s: \(output)")
        for note in summary.notes { print("note: \(note)") }
    }
}
