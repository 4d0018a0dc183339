import Foundation
@testable import RWKVCheckpoint

/// Any bytes given to the `.pth` reader either parse (and every tensor's bytes can then be read
/// within bounds) or throw a `CheckpointError`: never a trap, an out-of-bounds read or another error.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPth(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    do {
        let contents = try TorchCheckpoint.read(ByteSource(copying: data))
        let file = try CheckpointFile(data: data)
        for tensor in file.tensors { _ = try file.rawBytes(of: tensor.name) }
        _ = contents
        _ = try? RerankerWeights.load(from: data)
    } catch is CheckpointError {
    } catch {
        fatalError("the .pth reader threw an untyped error: \(error)")
    }
    return 0
}
