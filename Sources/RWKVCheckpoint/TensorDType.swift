/// The element types a checkpoint tensor may have.
public enum TensorDType: String, Sendable, CaseIterable, Codable {
    case float32, float16, bfloat16, int64

    public var byteSize: Int {
        switch self {
        case .float32: 4
        case .float16, .bfloat16: 2
        case .int64: 8
        }
    }

    /// The safetensors spelling (`F32`, `F16`, `BF16`, `I64`).
    public var safetensorsName: String {
        switch self {
        case .float32: "F32"
        case .float16: "F16"
        case .bfloat16: "BF16"
        case .int64: "I64"
        }
    }

    init?(safetensorsName: String) {
        guard let match = Self.allCases.first(where: { $0.safetensorsName == safetensorsName }) else { return nil }
        self = match
    }

    /// The legacy typed-storage class that `torch.save` names in data.pkl.
    init?(torchStorageName: String) {
        switch torchStorageName {
        case "FloatStorage": self = .float32
        case "HalfStorage": self = .float16
        case "BFloat16Storage": self = .bfloat16
        case "LongStorage": self = .int64
        default: return nil
        }
    }

    var isFloatingPoint: Bool { self != .int64 }
}
