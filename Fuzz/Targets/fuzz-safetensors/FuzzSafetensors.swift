import Foundation
@testable import RWKVCheckpoint

/// Any bytes given to the safetensors reader either parse (and every tensor can be read within
/// bounds) or throw a `CheckpointError`: never a trap, an out-of-bounds read or another error.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    do {
        _ = try SafetensorsReader.read(ByteSource(copying: data))
        let file = try CheckpointFile(data: data)
        for tensor in file.tensors { _ = try file.rawBytes(of: tensor.name) }
        _ = try? EmbeddingModelWeights.load(from: data)
    } catch is CheckpointError {
    } catch {
        fatalError("the safetensors reader threw an untyped error: \(error)")
    }
    return 0
}
