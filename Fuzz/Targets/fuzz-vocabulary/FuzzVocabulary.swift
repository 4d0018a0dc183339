import Foundation
import RWKVTokenizer

/// Any bytes given to the vocabulary parser either parse or throw a `VocabularyError`; a vocabulary
/// that parses builds a tokenizer (or throws) whose round trip holds for the vocabulary's own tokens.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVocabulary(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: start, count: count)
    do {
        let vocabulary = try Vocabulary(parsing: bytes)
        let tokenizer = try WorldTokenizer(vocabulary: vocabulary)
        for index in 0..<min(vocabulary.count, 64) {
            let piece = Array(vocabulary.tokenBytes(atIndex: index))
            let ids = tokenizer.encode(bytes: piece)
            // A vocabulary need not cover every byte: only text it can encode must come back.
            if let back = try? tokenizer.decodeBytes(ids), !ids.isEmpty, back != piece {
                fatalError("round trip of token \(index) changed its bytes")
            }
        }
    } catch is VocabularyError {
    } catch {
        fatalError("the vocabulary parser threw an untyped error: \(error)")
    }
    return 0
}
