import Foundation
import Hummingbird

/// OpenAI-compatible `/v1/embeddings` (also at `/embeddings`, for clients whose base URL has no
/// `/v1`) and `/v1/models`, Jina / Cohere v1 `/v1/rerank` and Cohere v2 `/v2/rerank`.
/// Errors on the OpenAI routes use OpenAI's `{"error": {...}}` body; the rerank routes add `detail` and `message`.
struct OpenAIRoutes: Sendable {
    let service: EmbeddingService
    var config: ServerConfiguration { service.config }

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/embeddings") { request, _ in try await embeddings(request) }
        router.post("/embeddings") { request, _ in try await embeddings(request) }
        router.get("/v1/models") { _, _ in try jsonResponse(models()) }
        router.post("/v1/rerank") { request, _ in try await rerankV1(request) }
        router.post("/v2/rerank") { request, _ in try await rerankV2(request) }
    }

    static let tokenIDsRefused = """
        token-id input is refused: this server would read the ids as RWKV world-tokenizer ids, but OpenAI \
        clients send tiktoken ids (LangChain's OpenAIEmbeddings does so by default), which would give \
        meaningless embeddings. Send the texts as strings (LangChain: \
        OpenAIEmbeddings(..., check_embedding_ctx_length=False)), or, if your ids are RWKV ids, start the \
        server with token-id input accepted.
        """

    func embeddings(_ request: Request) async throws -> Response {
        let timings = RequestTimings()
        let body = try await request.decodeJSON(OpenAIEmbeddingRequest.self, limit: config.payloadLimit)
        let base64: Bool
        switch body.encoding_format?.lowercased() {
        case nil, "float": base64 = false
        case "base64": base64 = true
        default: throw APIError.validation("`encoding_format` must be \"float\" or \"base64\"", param: "encoding_format")
        }
        if body.input.isTokenIDs && !config.acceptTokenIDs {
            throw APIError.validation(Self.tokenIDsRefused, param: "input")
        }
        try EmbedOptions.checkDimensions(body.dimensions, width: service.served.dimensions)
        let options = try body.fields.options(config: config)
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

    func rerankV1(_ request: Request) async throws -> Response {
        let body = try await request.decodeJSON(JinaRerankRequest.self, limit: config.payloadLimit)
        if let fields = body.rank_fields, fields.isEmpty {
            throw APIError.validation("`rank_fields` cannot be empty", param: "rank_fields")
        }
        return try await rerank(body.request, rankFields: body.rank_fields, returnDocumentsByDefault: true, version: "1")
    }

    func rerankV2(_ request: Request) async throws -> Response {
        let body = try await request.decodeJSON(RerankRequest.self, limit: config.payloadLimit)
        return try await rerank(body, rankFields: nil, returnDocumentsByDefault: false, version: "2")
    }

    /// Jina's (v1, documents echoed by default) and Cohere's (v2, not) rerank of `body`.
    private func rerank(_ body: RerankRequest, rankFields: [String]?, returnDocumentsByDefault: Bool,
                        version: String) async throws -> Response {
        let timings = RequestTimings()
        if let n = body.top_n, n < 1 { throw APIError.validation("`top_n` must be at least 1", param: "top_n") }
        let documents = body.documents, returnDocuments = body.return_documents ?? returnDocumentsByDefault
        var texts: [String] = []
        for (i, d) in documents.enumerated() { texts.append(try d.text(rankFields: rankFields, index: i)) }
        let result = try await service.rerank(query: body.query, documents: texts, truncate: body.truncate,
                                              direction: body.truncation_direction, field: "documents",
                                              maxDocumentTokens: body.max_tokens_per_doc, timings: timings)
        var results = result.scores.enumerated().map { i, s in
            RerankResponse.Result(index: i, relevance_score: s.score, document: returnDocuments ? documents[i].echoed : nil)
        }
        results.sort { $0.relevance_score != $1.relevance_score ? $0.relevance_score > $1.relevance_score : $0.index < $1.index }
        if let n = body.top_n { results = Array(results.prefix(n)) }
        let response = RerankResponse(id: UUID().uuidString.lowercased(), model: body.model ?? config.modelID, results: results,
                                      usage: .init(total_tokens: result.tokens),
                                      meta: .init(api_version: .init(version: version), billed_units: .init(search_units: 1)))
        return try jsonResponse(response, headers: result.timings.headers)
    }
}
