import Foundation

/// Everything that can be wrong with a checkpoint file, each with a message a user can act on.
/// Loaders never trap on file content: every bad byte ends up as one of these.
public enum CheckpointError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    case cannotOpen(path: String, reason: String)
    /// The file ends before a structure that it announces (`what` names the structure).
    case truncated(what: String)
    /// Neither a zip (`.pth`) nor a safetensors file.
    case unknownFormat(firstBytes: String)
    case corruptZip(String)
    case compressedEntry(name: String, method: Int)
    case encryptedEntry(name: String)
    case missingEntry(name: String)
    case unsupportedPickleOpcode(opcode: UInt8, offset: Int)
    case unsupportedPickleGlobal(module: String, name: String)
    case malformedPickle(String)
    case corruptSafetensorsHeader(String)
    case unsupportedDType(tensor: String, dtype: String)
    case unsupportedByteOrder(String)
    case tensorOutOfBounds(tensor: String, detail: String)
    case missingTensor(key: String, hint: String)
    case wrongShape(key: String, expected: [Int], found: [Int])
    case nonFiniteValue(tensor: String, index: Int)
    case inconsistentArchitecture(String)
    case invalidLayerIndices(String)
    case incompatibleReranker(String)
    case arithmeticOverflow(String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): "cannot open \(path): \(reason)"
        case let .truncated(what): "the file is truncated: it ends inside \(what)"
        case let .unknownFormat(firstBytes):
            "not a checkpoint: expected a PyTorch .pth (zip) or a safetensors file, the file starts with \(firstBytes)"
        case let .corruptZip(detail): "corrupt .pth (zip) structure: \(detail)"
        case let .compressedEntry(name, method):
            "zip entry \(name) is compressed (method \(method)); only stored entries (as torch.save writes them) are supported"
        case let .encryptedEntry(name): "zip entry \(name) is encrypted, which is not supported"
        case let .missingEntry(name): "the .pth archive has no entry \(name)"
        case let .unsupportedPickleOpcode(opcode, offset):
            "data.pkl uses pickle opcode 0x\(String(opcode, radix: 16)) at byte \(offset), which a state dict never needs (refused for safety)"
        case let .unsupportedPickleGlobal(module, name):
            "data.pkl refers to \(module).\(name), which is not on the list of allowed globals (refused for safety)"
        case let .malformedPickle(detail): "malformed data.pkl: \(detail)"
        case let .corruptSafetensorsHeader(detail): "corrupt safetensors header: \(detail)"
        case let .unsupportedDType(tensor, dtype): "tensor \(tensor) has dtype \(dtype); supported: float32, float16, bfloat16 (int64 for reranker_layer_idx)"
        case let .unsupportedByteOrder(order): "the checkpoint was saved with byte order '\(order)'; only little-endian is supported"
        case let .tensorOutOfBounds(tensor, detail): "tensor \(tensor) points outside its data: \(detail)"
        case let .missingTensor(key, hint): "missing tensor \(key)" + (hint.isEmpty ? "" : " (\(hint))")
        case let .wrongShape(key, expected, found): "tensor \(key) has shape \(found), expected \(expected)"
        case let .nonFiniteValue(tensor, index): "tensor \(tensor) contains NaN or infinity (first at element \(index))"
        case let .inconsistentArchitecture(detail): "inconsistent model shape: \(detail)"
        case let .invalidLayerIndices(detail): "invalid reranker_layer_idx: \(detail)"
        case let .incompatibleReranker(detail): "the reranker does not match the embedding model: \(detail)"
        case let .arithmeticOverflow(what): "sizes in the file overflow while computing \(what)"
        case let .writeFailed(path, reason): "cannot write \(path): \(reason)"
        }
    }

    public var errorDescription: String? { description }
}

/// Overflow-checked arithmetic on sizes read from files (an overflow is a corrupt file, not a trap).
@inline(__always)
func checkedAdd(_ a: Int, _ b: Int, _ what: @autoclosure () -> String) throws -> Int {
    let (sum, overflow) = a.addingReportingOverflow(b)
    if overflow { throw CheckpointError.arithmeticOverflow(what()) }
    return sum
}

@inline(__always)
func checkedMultiply(_ a: Int, _ b: Int, _ what: @autoclosure () -> String) throws -> Int {
    let (product, overflow) = a.multipliedReportingOverflow(by: b)
    if overflow { throw CheckpointError.arithmeticOverflow(what()) }
    return product
}

func checkedProduct(_ values: [Int], _ what: @autoclosure () -> String) throws -> Int {
    var product = 1
    for value in values {
        guard value >= 0 else { throw CheckpointError.arithmeticOverflow(what()) }
        product = try checkedMultiply(product, value, what())
    }
    return product
}
