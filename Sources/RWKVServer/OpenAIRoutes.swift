import Foundation
import Hummingbird

/// OpenAI-compatible `/v1/embeddings` and `/v1/models`, and the Jina/Cohere-style `/v1/rerank`.
/// Errors on these routes use OpenAI's `{"error": {...}}` body.
struct OpenAIRoutes: Sendable {
    let service: EmbeddingService
    var config: ServerConfiguration { service.config }

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/embeddings") { request, _ in try await embeddings(request) }
        router.get("/v1/models") { _, _ in try jsonResponse(models()) }
        router.post("/v1/rerank") { request, _ in try await rerank(request) }
    }

    func embeddings(_ request: Request) async throws -> Response {
        let timings = RequestTimings()
        let body = try await request.decodeJSON(OpenAIEmbeddingRequest.self, limit: config.payloadLimit)
        let base64: Bool
        switch body.encoding_format?.lowercased() {
        case nil, "float": base64 = false
        case "base64": base64 = true
        default: throw APIError.validation("`encoding_format` must be \"float\" or \"base64\"", param: "encoding_format")
        }
        if let d = body.dimensions, d != service.served.dimensions {
            throw APIError.validation("this model only supports `dimensions` = \(service.served.dimensions)", param: "dimensions")
        }
        let options = try EmbedOptions(task: body.task, protocol: body.protocol, instruction: body.instruction,
                                       normalize: body.normalize, truncate: body.truncate,
                                       direction: body.truncation_direction, config: config)
        let result = try await service.embed(body.input, options: options, field: "input", timings: timings)
        let data = result.vectors.enumerated().map { i, v in
            OpenAIEmbeddingResponse.Item(embedding: base64 ? .base64(of: v) : .float(v), index: i)
        }
        let response = OpenAIEmbeddingResponse(data: data, model: body.model ?? config.modelID,
                                               usage: .init(prompt_tokens: result.promptTokens, total_tokens: result.promptTokens))
        return try jsonResponse(response, headers: result.timings.headers)
    }

    func models() -> OpenAIModelList {
        let created = Int(ServerState.startTime.timeIntervalSince1970)
        var list = [OpenAIModelList.Model(id: config.modelID, created: created, owned_by: "rwkv-emb")]
        if service.served.reranker != nil {
            list.append(.init(id: config.modelID + "-reranker", created: created, owned_by: "rwkv-emb"))
        }
        return OpenAIModelList(data: list)
    }

    func rerank(_ request: Request) async throws -> Response {
        let timings = RequestTimings()
        let body = try await request.decodeJSON(JinaRerankRequest.self, limit: config.payloadLimit)
        if let n = body.top_n, n < 1 { throw APIError.validation("`top_n` must be at least 1", param: "top_n") }
        let texts = body.documents.map(\.text)
        let result = try await service.rerank(query: body.query, documents: texts, truncate: body.truncate,
                                              direction: body.truncation_direction, field: "documents", timings: timings)
        let returnDocuments = body.return_documents ?? true
        var results = result.scores.enumerated().map { i, s in
            JinaRerankResponse.Result(index: i, relevance_score: s.score, document: returnDocuments ? .init(text: texts[i]) : nil)
        }
        results.sort { $0.relevance_score != $1.relevance_score ? $0.relevance_score > $1.relevance_score : $0.index < $1.index }
        if let n = body.top_n { results = Array(results.prefix(n)) }
        let response = JinaRerankResponse(model: body.model ?? config.modelID, results: results,
                                          usage: .init(total_tokens: result.tokens))
        return try jsonResponse(response, headers: result.timings.headers)
    }
}
