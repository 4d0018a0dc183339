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

    func register(on router: Router<BasicRequestContext>) {
        router.post("/embed") { request, _ in try await embed(request) }
        router.post("/rerank") { request, _ in try await rerank(request) }
        router.post("/tokenize") { request, _ in try await tokenize(request) }
        router.post("/decode") { request, _ in try await decode(request) }
        router.get("/info") { _, _ in try jsonResponse(info()) }
        router.get("/health") { _, _ in
            guard !state.isShuttingDown else { throw APIError(.unavailable, "shutting down") }
            return Response(status: .ok)
        }
        router.get("/metrics") { _, _ in
            service.metrics.queueSize.set(Int64(service.batcher.queueSize))
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(bytes: service.metrics.exposition())))
        }
    }

    func embed(_ request: Request) async throws -> Response {
        let timings = RequestTimings()
        let body = try await request.decodeJSON(TEIEmbedRequest.self, limit: config.payloadLimit)
        var instruction = body.instruction
        if instruction == nil, let prompt = body.prompt_name {
            guard prompt.lowercased() == "query" else {
                throw APIError.validation("`prompt_name` must be \"query\" (got \"\(prompt)\")", param: "prompt_name")
            }
            instruction = Embedder.defaultInstruction
        }
        let options = try EmbedOptions(task: body.task, protocol: body.protocol, instruction: instruction,
                                       normalize: body.normalize, truncate: body.truncate,
                                       direction: body.truncation_direction, config: config)
        let result = try await service.embed(body.inputs, options: options, field: "inputs", timings: timings)
        return try jsonResponse(result.vectors, headers: result.timings.headers)
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
            throw APIError(.inputTooLarge, "batch size \(texts.count) > maximum allowed batch size \(config.maxClientBatchSize)", param: "inputs")
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
        TEIInfo(model_id: config.modelID, model_sha: nil, model_dtype: served.model.precision.dtypeName, checkpoint_dtypes: served.checkpointDTypes,
                model_type: .init(embedding: .init(pooling: "eos-mean")), embedding_dimensions: served.dimensions,
                layers: served.model.layerCount, reranker: served.reranker != nil,
                max_concurrent_requests: config.maxConcurrentRequests, max_input_length: config.maxInputLength,
                max_batch_tokens: config.maxBatchTokens, max_batch_requests: config.maxBatchRequests,
                max_client_batch_size: config.maxClientBatchSize, auto_truncate: config.autoTruncate,
                tokenization_workers: 1, version: ServerVersion.string, sha: nil, docker_label: nil)
    }
}

public enum ServerVersion {
    public static let string = "0.1.0"
}
