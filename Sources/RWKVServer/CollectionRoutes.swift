import EmbeddingRWKV
import Foundation
import Hummingbird
import RWKVRetrieval
import RWKVTokenizer
import RWKVSupport

/// Collection routes: create/list/delete collections, add/replace/delete documents (embeddings and
/// reranker states computed and made durable before the response), and search with offline reranking.
/// Indexing and search run on the inference thread, between batches.
struct CollectionRoutes: Sendable {
    let registry: CollectionRegistry
    let batcher: InferenceBatcher
    let config: ServerConfiguration
    let tokenizer: WorldTokenizer
    let metrics: ServerMetrics

    func register(on router: Router<BasicRequestContext>) {
        router.get("/collections") { _, _ in try jsonResponse(CollectionList(collections: registry.names.compactMap { try? info($0) })) }
        router.post("/collections") { request, _ in try await create(request) }
        router.get("/collections/:name") { _, context in try jsonResponse(try info(try name(context))) }
        router.delete("/collections/:name") { _, context in
            let name = try name(context)
            try registry.delete(name: name)
            return Response(status: .noContent)
        }
        router.get("/collections/:name/documents") { request, context in try list(try name(context), filter: request.uri.queryParameters.get("filter")) }
        router.post("/collections/:name/documents") { request, context in try await add(request, try name(context)) }
        router.post("/collections/:name/documents/delete") { request, context in
            let body = try await request.decodeJSON(DeleteDocumentsRequest.self, limit: config.payloadLimit)
            guard body.ids != nil || body.filter != nil else { throw APIError.validation("give `ids` or `filter`", param: "ids") }
            return try await delete(try name(context), ids: body.ids ?? [], filter: try body.filter.map { try Self.filter($0) })
        }
        router.get("/collections/:name/documents/:id") { _, context in try document(try name(context), id: try id(context)) }
        router.put("/collections/:name/documents/:id") { request, context in try await replace(request, try name(context), id: try id(context)) }
        router.delete("/collections/:name/documents/:id") { _, context in
            try await delete(try name(context), ids: [try id(context)], mustExist: true)
        }
        router.post("/collections/:name/search") { request, context in try await search(request, try name(context)) }
        router.post("/collections/:name/rerank") { request, context in try await rerank(request, try name(context)) }
        router.post("/collections/:name/compact") { request, context in try await compact(request, try name(context)) }
    }

    private func name(_ context: BasicRequestContext) throws -> String {
        guard let name = context.parameters.get("name") else { throw APIError(.notFound, "no collection name") }
        return name
    }

    private func id(_ context: BasicRequestContext) throws -> String {
        guard let id = context.parameters.get("id")?.removingPercentEncoding, !id.isEmpty else {
            throw APIError(.notFound, "no document id")
        }
        return id
    }

    func info(_ name: String) throws -> CollectionInfo {
        let c = try registry.get(name)
        let s = c.stats()
        return CollectionInfo(name: name, documents: s.documents, documents_with_state: s.documentsWithState,
                              passages_with_state: s.passagesWithState, states: "\(s.stateRetention)",
                              dimension: s.dimension, state_layers: s.stateLayers, state_precision: s.statePrecision.rawValue,
                              protocol: c.manifest.inputProtocol, embedding_tokens: s.embeddingTokens, state_tokens: s.stateTokens,
                              file_bytes: s.fileBytes, passages: s.passages, format_version: c.manifest.version,
                              dead_bytes: s.deadBytes, sqlite_bytes: s.sqliteBytes,
                              ann: s.ann.map { a in
                                  ANNInfo(kind: a.kind, settings: ["kind": a.settings.kind.rawValue, "m": "\(a.settings.m)",
                                                                   "ef_construction": "\(a.settings.efConstruction)",
                                                                   "ef_search": "\(a.settings.efSearch)", "threshold": "\(a.settings.threshold)",
                                                                   "oversample": a.settings.kind.codesKind.map { "\(a.settings.effectiveOversample($0))" } ?? "-"],
                                          elements: a.elements, deleted: a.deleted, memory_bytes: a.memoryBytes,
                                          file_bytes: a.fileBytes, file: a.file)
                              },
                              weight_precision: c.manifest.weightPrecision?.rawValue,
                              weight_precision_mismatch: c.weightPrecisionMismatch.map { "\($0)" })
    }

    /// The `ann` fields of create/add over `base` (422 naming the field when out of range).
    static func annSettings(_ request: ANNRequest, base: ANNSettings) throws -> ANNSettings {
        var s = base
        if let k = request.kind {
            guard let kind = ANNKind(rawValue: k.lowercased()) else {
                let known = ANNKind.allCases.map(\.rawValue).joined(separator: ", ")
                throw APIError.validation("`ann.kind` must be one of \(known)", param: "ann.kind")
            }
            s.kind = kind
        }
        if let v = request.m { s.m = v }
        if let v = request.ef_construction { s.efConstruction = v }
        if let v = request.ef_search { s.efSearch = v }
        if let v = request.threshold { s.threshold = v }
        if let v = request.oversample { s.oversample = v }
        do { try s.validate() } catch { throw APIError.validation("`ann`: \(error)", param: "ann") }
        return s
    }

    /// The `states` field of create/add (422 naming it when malformed).
    static func stateRetention(_ text: String) throws -> StateRetention {
        do { return try StateRetention(parsing: text) } catch { throw APIError.validation("`states`: \(error)", param: "states") }
    }

    func create(_ request: Request) async throws -> Response {
        let body = try await request.decodeJSON(CreateCollectionRequest.self, limit: config.payloadLimit)
        var configuration = CollectionConfiguration()
        if let p = body.state_precision {
            guard let precision = StatePrecision(rawValue: p.lowercased()) else {
                let known = StatePrecision.allCases.map(\.rawValue).joined(separator: ", ")
                throw APIError.validation("`state_precision` must be one of \(known)", param: "state_precision")
            }
            configuration.statePrecision = precision
        }
        if let p = body.protocol {
            guard let proto = InputProtocol(rawValue: p.lowercased()) else {
                throw APIError.validation("`protocol` must be single or paper", param: "protocol")
            }
            configuration.inputProtocol = proto
        }
        let registry = self.registry
        let name = body.name
        let chosen = configuration
        let ann = try body.ann.map { try Self.annSettings($0, base: ANNSettings()) }
        let states = try body.states.map(Self.stateRetention)
        _ = try await batcher.exclusive { _ in
            let c = try registry.create(name: name, configuration: chosen)
            if let ann { try c.setANNSettings(ann) }
            if let states { try c.setStateRetention(states) }
        }
        return try jsonResponse(try info(name), status: .created)
    }

    /// A `filter` field or parameter: the metadata filter language. A malformed one is 400 (as malformed
    /// JSON is), with a message naming the operator or path at fault.
    static func filter(_ value: JSONValue) throws -> MetadataFilter {
        do { return try MetadataFilter.parse(json: value.text) } catch {
            throw APIError(.invalidJSON, "`filter`: \(error)", param: "filter")
        }
    }

    func list(_ name: String, filter: String?) throws -> Response {
        let c = try registry.get(name)
        let parsed = try filter.map { try Self.filter(JSONValue(parsing: $0)) }
        let docs = try c.list(where: parsed).map(DocumentListItem.init)
        return try jsonResponse(DocumentListResponse(collection: name, documents: docs))
    }

    func document(_ name: String, id: String) throws -> Response {
        let c = try registry.get(name)
        guard let doc = c.document(id: id) else { throw APIError(.notFound, "no document \"\(id)\" in \"\(name)\"", param: "id") }
        return try jsonResponse(DocumentResponse(id: doc.id, text: doc.text, metadata: doc.metadata.map(JSONValue.init(parsing:))))
    }

    func add(_ request: Request, _ name: String) async throws -> Response {
        let collection = try registry.get(name)
        let body = try await request.decodeJSON(AddDocumentsRequest.self, limit: config.payloadLimit)
        guard !body.documents.isEmpty else { throw APIError(.empty, "`documents` cannot be empty", param: "documents") }
        var documents: [Document] = []
        for (i, d) in body.documents.enumerated() {
            documents.append(try makeDocument(id: d.id, text: d.text, metadata: d.metadata, field: "documents[\(i)]"))
        }
        let states = try body.states.map(Self.stateRetention)
        if let request = body.ann {
            let ann = try Self.annSettings(request, base: collection.annSettings)
            _ = try await batcher.exclusive { _ in try collection.setANNSettings(ann) }
        }
        if let states { _ = try await batcher.exclusive { _ in try collection.setStateRetention(states) } }
        return try await store(documents, in: collection, name: name, storeStates: body.store_states ?? true)
    }

    func replace(_ request: Request, _ name: String, id: String) async throws -> Response {
        let collection = try registry.get(name)
        let body = try await request.decodeJSON(ReplaceDocumentRequest.self, limit: config.payloadLimit)
        let doc = try makeDocument(id: id, text: body.text, metadata: body.metadata, field: "text")
        return try await store([doc], in: collection, name: name, storeStates: body.store_states ?? true)
    }

    private func makeDocument(id: String?, text: String, metadata: JSONValue?, field: String) throws(APIError) -> Document {
        guard !text.isEmpty else { throw .validation("`\(field)` has an empty text", param: field) }
        if let id, id.isEmpty { throw .validation("`\(field)` has an empty id", param: field) }
        let tokens = text.utf8.count  // an upper bound of the token count, checked exactly below only when needed
        if tokens > config.maxInputLength {
            let exact = tokenizer.encode(text).count
            if exact > config.maxInputLength {
                throw APIError(.inputTooLarge, "`\(field)` must have less than \(config.maxInputLength) tokens. Given: \(exact)", param: field)
            }
        }
        return Document(id: id, text: text, metadata: metadata.map(\.text))
    }

    private func store(_ documents: [Document], in collection: DocumentCollection, name: String, storeStates: Bool) async throws -> Response {
        let options = AddOptions(batchTokens: config.maxBatchTokens, storeStates: storeStates)
        let (added, _) = try await batcher.exclusive { _ in try collection.add(documents, options: options) }
        let items = added.map { AddDocumentsResponse.Item(id: $0.id, outcome: $0.outcome.rawValue, tokens: $0.tokens) }
        return try jsonResponse(AddDocumentsResponse(collection: name, results: items))
    }

    func delete(_ name: String, ids: [String], filter: MetadataFilter? = nil, mustExist: Bool = false) async throws -> Response {
        let collection = try registry.get(name)
        let (deleted, _) = try await batcher.exclusive { _ in
            var deleted = try collection.delete(ids: ids)
            if let filter { deleted += try collection.delete(where: filter) }
            return deleted
        }
        if mustExist && deleted.isEmpty {
            throw APIError(.notFound, "no document \"\(ids.first ?? "")\" in \"\(name)\"", param: "id")
        }
        return try jsonResponse(DeleteDocumentsResponse(collection: name, deleted: deleted))
    }

    func search(_ request: Request, _ name: String) async throws -> Response {
        let start = ContinuousClock.now
        let collection = try registry.get(name)
        let body = try await request.decodeJSON(SearchRequest.self, limit: config.payloadLimit)
        guard !body.query.isEmpty else { throw APIError.validation("`query` cannot be empty", param: "query") }
        let defaults = SearchOptions()
        let topK = body.top_k ?? defaults.topK
        guard (1...1000).contains(topK) else { throw APIError.validation("`top_k` must be in 1...1000", param: "top_k") }
        let candidates = body.candidates ?? max(defaults.candidates, topK)
        guard (1...10000).contains(candidates) else { throw APIError.validation("`candidates` must be in 1...10000", param: "candidates") }
        var mode = defaults.mode
        if let m = body.mode {
            guard let parsed = SearchMode(rawValue: m.lowercased()) else {
                throw APIError.validation("`mode` must be dense, lexical or hybrid", param: "mode")
            }
            mode = parsed
        }
        let filter = try body.filter.map { try Self.filter($0) }
        var options = defaults
        options.topK = topK
        options.candidates = max(candidates, topK)
        options.rerank = body.rerank ?? defaults.rerank
        options.instruction = body.instruction ?? defaults.instruction
        options.mode = mode
        options.filter = filter
        options.group = body.group ?? defaults.group
        options.exact = body.exact ?? defaults.exact
        let query = body.query
        let (result, timings) = try await batcher.exclusive { [options] _ in try collection.search(query, options: options) }
        metrics.observeSearch(collection: name, mode: mode, filtered: filter != nil, result: result)
        let response = SearchOutput(result, mode: mode, collection: name,
                                    timings: .init(result.timings, queueMilliseconds: Self.ms(timings.queue),
                                                   totalMilliseconds: Self.ms(ContinuousClock.now - start)))
        var headers = HTTPFields()
        headers[HeaderName("x-queue-time")!] = RequestTimings.ms(timings.queue)
        headers[HeaderName("x-inference-time")!] = RequestTimings.ms(timings.inference)
        headers[HeaderName("x-total-time")!] = RequestTimings.ms(ContinuousClock.now - start)
        return try jsonResponse(response, headers: headers)
    }

    /// Reranks given documents (best passage each) or passages from their cached states.
    func rerank(_ request: Request, _ name: String) async throws -> Response {
        let collection = try registry.get(name)
        let body = try await request.decodeJSON(CollectionRerankRequest.self, limit: config.payloadLimit)
        guard !body.query.isEmpty else { throw APIError.validation("`query` cannot be empty", param: "query") }
        let ids = body.ids ?? [], passages = body.passages ?? []
        guard ids.isEmpty != passages.isEmpty else { throw APIError.validation("give either `ids` or `passages`", param: "ids") }
        guard ids.count + passages.count <= 10000 else { throw APIError.validation("at most 10000 ids", param: "ids") }
        let query = body.query
        let (r, _) = try await batcher.exclusive { _ in
            ids.isEmpty ? try collection.rerank(query, passages: passages) : try collection.rerank(query, ids: ids)
        }
        metrics.observeRerank(collection: name, result: r)
        let results = r.scores.enumerated().map { i, s in
            CollectionRerankResponse.Score(id: ids.isEmpty ? nil : ids[i],
                                           passage_id: ids.isEmpty ? passages[i] : (i < r.passages.count ? r.passages[i] : nil),
                                           score: s?.score.score, logit: s?.score.logit, rerank_mode: s?.mode.rawValue)
        }
        return try jsonResponse(CollectionRerankResponse(collection: name, results: results, online_fallbacks: r.online,
                                                         damaged: r.damaged, state_load_ms: r.stateLoadSeconds * 1000,
                                                         rerank_ms: r.rerankSeconds * 1000))
    }

    /// Compacts a collection's segments (searches keep running on the old ones until the switch).
    func compact(_ request: Request, _ name: String) async throws -> Response {
        let collection = try registry.get(name)
        let buffer = try await request.body.collect(upTo: config.payloadLimit)
        let all = buffer.readableBytes == 0 ? false : (try JSONDecoder().decode(CompactRequest.self, from: Data(buffer.readableBytesView)).all ?? false)
        let (r, _) = try await batcher.exclusive { _ in try collection.compact(all: all) }
        return try jsonResponse(CompactResponse(collection: name, passages_moved: r.passagesMoved, bytes_copied: r.bytesCopied,
                                                segments_before: r.segmentsBefore, segments_after: r.segmentsAfter,
                                                bytes_before: r.bytesBefore, bytes_after: r.bytesAfter, seconds: r.seconds))
    }

    static func ms(_ d: Duration) -> Double {
        d.milliseconds
    }
}
