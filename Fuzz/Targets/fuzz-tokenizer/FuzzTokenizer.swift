import Foundation
import RWKVTokenizer

/// The shipped vocabulary, read from the source tree (the fuzz binary has no resource bundle).
let tokenizer: WorldTokenizer = {
    let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../Sources/RWKVTokenizer/Resources/rwkv_vocab_v20230424.txt").standardizedFileURL
    do { return try WorldTokenizer(vocabularyURL: sources) } catch { fatalError("cannot load the vocabulary: \(error)") }
}()

/// For any bytes: encoding never traps, every id is a vocabulary token, and decoding the ids gives
/// the same bytes back; when the bytes are UTF-8, strict decoding gives the same string back.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: start, count: count)
    let ids = tokenizer.encode(bytes: bytes, addEOS: true)
    guard ids.last == 65535, ids.dropLast().allSatisfy({ $0 > 0 && $0 < 65535 }) else {
        fatalError("encode produced an id outside the vocabulary: \(ids)")
    }
    let back: [UInt8]
    do { back = try tokenizer.decodeBytes(ids) } catch { fatalError("decoding encoded ids failed: \(error)") }
    guard back.elementsEqual(bytes) else { fatalError("round trip changed the bytes") }
    if let text = String(validating: bytes, as: UTF8.self) {
        guard tokenizer.encode(text) == Array(ids.dropLast()), (try? tokenizer.decode(ids)) == text else {
            fatalError("the string round trip differs from the byte round trip")
        }
    }
    return 0
}
