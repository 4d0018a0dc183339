import Foundation
@testable import RWKVServer

/// Decodes one body as every route's request type, as the routes do (UTF-8 check, then
/// `JSONDecoder`): each decode succeeds or fails with an error the server answers with a 4xx,
/// never a trap and never a 5xx (`backend`).
func decode<T: Decodable>(_ type: T.Type, _ data: Data) {
    guard String(validatingUTF8Bytes: data) != nil else { return }
    do {
        _ = try JSONDecoder().decode(T.self, from: data)
    } catch {
        let apiError = APIError.from(error)
        if apiError.kind == .backend {
            fatalError("decoding \(T.self) failed with a server error: \(apiError.message)")
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    // TEI
    decode(TEIEmbedRequest.self, data)
    decode(TEIRerankRequest.self, data)
    decode(TEITokenizeRequest.self, data)
    decode(TEIDecodeRequest.self, data)
    decode(TEIEmbedAllRequest.self, data)
    decode(TEISimilarityRequest.self, data)
    decode(TEIPredictRequest.self, data)
    // OpenAI, Jina/Cohere (v1 and v2 rerank)
    decode(OpenAIEmbeddingRequest.self, data)
    decode(JinaRerankRequest.self, data)
    decode(RerankRequest.self, data)
    // Collections
    decode(CreateCollectionRequest.self, data)
    decode(AddDocumentsRequest.self, data)
    decode(ReplaceDocumentRequest.self, data)
    decode(DeleteDocumentsRequest.self, data)
    decode(SearchRequest.self, data)
    decode(CompactRequest.self, data)
    decode(CollectionRerankRequest.self, data)
    return 0
}
