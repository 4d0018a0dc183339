import EmbeddingRWKV
import Foundation
import Hummingbird
import RWKVTokenizer

/// Hugging Face text-embeddings-inference compatible routes.
struct TEIRoutes: Sendable {
    let service: EmbeddingService
    let state: ServerState

    var config: ServerConfiguration { service.config }
    var served: ServedModel { service.served }

    /// `collectionGauges` refreshes the per-collection gauges when `/metrics` is scraped.
    func register(on router: Router<BasicRequestContext>, collectionGauges: @escaping @Sendable () -> Void = {}) {
        router.post("/embed") { request, _ in try await embed(request) }
        // SageMaker / Inference Endpoints entry points: embedding, or sentence similarity when the
        // inputs are `{source_sentence, sentences}` (huggingface_hub's InferenceClient posts both
        // feature_extraction and sentence_similarity to the endpoint URL itself).
        router.post("/") { request, _ in try await invocation(request) }
        router.post("/invocations") { request, _ in try await invocation(request) }
        router.post("/embed_all") { request, _ in try await embedAll(request) }
        router.post("/similarity") { request, _ in try await similarity(request) }
        router.post("/predict") { request, _ in try await predict(request) }
        router.post("/rerank") { request, _ in try await rerank(request) }
        router.post("/tokenize") { request, _ in try await tokenize(request) }
        router.post("/decode") { request, _ in try await decode(request) }
        router.get("/info") { _, _ in try jsonResponse(info()) }
        for path in ["/health", "/", "/ping"] {
            router.get(RouterPath(path)) { _, _ in
                guard !state.isShuttingDown else { throw APIError(.unavailable, "shutting down") }
                return Response(status: .ok)
            }
        }
        router.get("/metrics") { _, _ in
            service.metrics.queueSize.set(Int64(service.batcher.queueSize))
            collectionGauges()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(bytes: service.metrics.exposition())))
        }
    }

    func invocation(_ request: Request) async throws -> Response {
        let data = try await request.collectJSONBody(limit: config.payloadLimit)
        if (try? decodeJSONBody(TEISimilarityProbe.self, from: data)) != nil {
            return try await similarity(try decodeJSONBody(TEISimilarityRequest.self, from: data))
        }
        return try await embed(try decodeJSONBody(TEIEmbedRequest.self, from: data))
    }

    func embed(_ request: Request) async throws -> Response {
        try await embed(try await request.decodeJSON(TEIEmbedRequest.self, limit: config.payloadLimit))
    }

    func embed(_ body: TEIEmbedRequest) async throws -> Response {
        let timings = RequestTimings()
        // Values nested in `parameters` (the Hugging Face task format) count when not given at the top.
        let p = body.parameters
        try EmbedOptions.checkDimensions(body.dimensions ?? p?.dimensions, width: served.dimensions)
        let options = try body.fields.or(p?.fields).options(config: config)
        let result = try await service.embed(body.inputs, options: options, field: "inputs", timings: timings)
        return try jsonResponse(result.vectors, headers: result.timings.headers)
    }

    func embedAll(_ request: Request) async throws -> Response {
        let timings = RequestTimings()
        let body = try await request.decodeJSON(TEIEmbedAllRequest.self, limit: config.payloadLimit)
        let options = try body.fields.options(normalize: false, config: config)
        let result = try await service.embedAll(body.inputs, options: options, field: "inputs", timings: timings)
        return try jsonResponse(result.tokens, headers: result.timings.headers)
    }

    /// Cosine similarity of `source_sentence` with each of `sentences` (one shared forward pass).
    func similarity(_ request: Request) async throws -> Response {
        try await similarity(try await request.decodeJSON(TEISimilarityRequest.self, limit: config.payloadLimit))
    }

    func similarity(_ body: TEISimilarityRequest) async throws -> Response {
        let timings = RequestTimings()
        guard !body.inputs.sentences.isEmpty else {
            throw APIError(.empty, "`inputs.sentences` cannot be empty", param: "inputs.sentences")
        }
        let options = try (body.parameters?.fields ?? EmbedRequestFields()).options(defaultTask: "sts", normalize: true, config: config)
        let texts = [body.inputs.source_sentence] + body.inputs.sentences
        let result = try await service.embed(.texts(texts, single: false), options: options, field: "inputs", timings: timings)
        let source = result.vectors[0]
        let scores = result.vectors.dropFirst().map { v in zip(source, v).reduce(Float(0)) { $0 + $1.0 * $1.1 } }
        return try jsonResponse(scores, headers: result.timings.headers)
    }

    /// EmbeddingRWKV has no classification head: TEI's answer for an embedding model.
    func predict(_ request: Request) async throws -> Response {
        _ = try await request.decodeJSON(TEIPredictRequest.self, limit: config.payloadLimit)
        throw APIError(.modelType, "model is not a classifier model: EmbeddingRWKV serves embeddings and reranking (use /embed or /rerank)")
    }

    func rerank(_ request: Request) async throws -> Response {
        let timings = RequestTimings()
        let body = try await request.decodeJSON(TEIRerankRequest.self, limit: config.payloadLimit)
        let result = try await service.rerank(query: body.query, documents: body.texts, truncate: body.truncate,
                                              direction: body.truncation_direction, field: "texts", timings: timings)
        let raw = body.raw_scores ?? false
        let returnText = body.return_text ?? false
        var ranks = result.scores.enumerated().map { i, s in
            TEIRank(index: i, score: raw ? s.logit : s.score, text: returnText ? body.texts[i] : nil)
        }
        ranks.sort { $0.score != $1.score ? $0.score > $1.score : $0.index < $1.index }
        return try jsonResponse(ranks, headers: result.timings.headers)
    }

    func tokenize(_ request: Request) async throws -> Response {
        let body = try await request.decodeJSON(TEITokenizeRequest.self, limit: config.payloadLimit)
        let texts = body.inputs.items
        guard !texts.isEmpty else { throw APIError(.empty, "`inputs` cannot be empty", param: "inputs") }
        guard texts.count <= config.maxClientBatchSize else {
            throw APIError(.batchTooLarge, "batch size \(texts.count) > maximum allowed batch size \(config.maxClientBatchSize)", param: "inputs")
        }
        let addEOS = body.add_special_tokens ?? true
        let tokenizer = served.tokenizer
        var result: [[TEIToken]] = []
        for text in texts {
            let ids = tokenizer.encode(text, addEOS: false)
            var offset = 0
            var tokens: [TEIToken] = []
            tokens.reserveCapacity(ids.count + 1)
            for id in ids {
                let bytes = tokenizer.tokenBytes(for: id) ?? []
                tokens.append(TEIToken(id: id, text: String(decoding: bytes, as: UTF8.self), special: false,
                                       start: offset, stop: offset + bytes.count))
                offset += bytes.count
            }
            if addEOS { tokens.append(TEIToken(id: RWKVModel.eos, text: "", special: true, start: nil, stop: nil)) }
            result.append(tokens)
        }
        return try jsonResponse(result)
    }

    func decode(_ request: Request) async throws -> Response {
        let body = try await request.decodeJSON(TEIDecodeRequest.self, limit: config.payloadLimit)
        let lists = body.ids.items
        guard !lists.isEmpty else { throw APIError(.empty, "`ids` cannot be empty", param: "ids") }
        var texts: [String] = []
        for ids in lists {
            do {
                texts.append(try served.tokenizer.decode(ids, invalidUTF8: .replace))
            } catch {
                throw APIError(.tokenizer, "cannot decode: \(error)", param: "ids")
            }
        }
        return try jsonResponse(texts)
    }

    func info() -> TEIInfo {
        TEIInfo(model_id: config.modelID, model_sha: nil, model_dtype: served.model.precision.dtypeName,
                served_model_name: config.modelID, checkpoint_dtypes: served.checkpointDTypes,
                model_type: .init(embedding: .init(pooling: "eos-mean")), embedding_dimensions: served.dimensions,
                layers: served.model.layerCount, reranker: served.reranker != nil,
                max_concurrent_requests: config.maxConcurrentRequests, max_input_length: config.maxInputLength,
                max_batch_tokens: config.maxBatchTokens, max_batch_requests: config.maxBatchRequests,
                max_client_batch_size: config.maxClientBatchSize, max_client_batch_tokens: config.maxClientBatchTokens,
                auto_truncate: config.autoTruncate,
                tokenization_workers: 1, version: ServerVersion.string, sha: nil, docker_label: nil)
    }
}

public enum ServerVersion {
    public static let string = "0.1.0"
}
