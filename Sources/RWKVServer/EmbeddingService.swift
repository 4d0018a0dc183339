import EmbeddingRWKV
import Hummingbird
import RWKVSupport

/// HTTPTypes' field name (Hummingbird re-exports `HTTPFields`, not `HTTPField`).
typealias HeaderName = HTTPFields.Element.Name

/// Per-request stage timings, sent as TEI's `x-*-time` headers (milliseconds).
struct RequestTimings: Sendable {
    var start = ContinuousClock.now
    var tokenization: Duration = .zero
    var queue: Duration = .zero
    var inference: Duration = .zero
    var tokens = 0
    var characters = 0

    var headers: HTTPFields {
        let total = ContinuousClock.now - start
        var h = HTTPFields()
        h[HeaderName("x-compute-type")!] = "cpu"
        h[HeaderName("x-compute-time")!] = Self.ms(tokenization + queue + inference)
        h[HeaderName("x-compute-characters")!] = String(characters)
        h[HeaderName("x-compute-tokens")!] = String(tokens)
        h[HeaderName("x-total-time")!] = Self.ms(total)
        h[HeaderName("x-tokenization-time")!] = Self.ms(tokenization)
        h[HeaderName("x-queue-time")!] = Self.ms(queue)
        h[HeaderName("x-inference-time")!] = Self.ms(inference)
        return h
    }

    static func ms(_ d: Duration) -> String { String(d.wholeMilliseconds) }
}

/// The shared work behind the embedding and rerank routes of every API family:
/// validation -> tokenization -> batcher -> engine -> post-processing.
final class EmbeddingService: Sendable {
    let served: ServedModel
    let config: ServerConfiguration
    let metrics: ServerMetrics
    let batcher: InferenceBatcher
    let preparer: InputPreparer

    init(served: ServedModel, config: ServerConfiguration, metrics: ServerMetrics, batcher: InferenceBatcher) {
        self.served = served
        self.config = config
        self.metrics = metrics
        self.batcher = batcher
        preparer = InputPreparer(served: served, config: config)
    }

    struct Embeddings: Sendable {
        var vectors: [[Float]]
        var promptTokens: Int
        var timings: RequestTimings
    }

    /// Embeddings of the inputs (texts or token ids) of one request.
    func embed(_ inputs: EmbeddingInputs, options: EmbedOptions, field: String, timings: RequestTimings) async throws(APIError) -> Embeddings {
        var timings = timings
        let method = inputs.isSingle ? "single" : "batch"
        let (sequences, tokens) = try prepare(inputs, options: options, field: field, countCharacters: true, timings: &timings)

        var raw: [[Float]] = []
        raw.reserveCapacity(sequences.count)
        for chunk in engineBatches(sequences) {
            let (vectors, batch) = try await batcher.embed(Array(sequences[chunk]), task: options.task)
            raw += vectors
            timings.queue += batch.queue
            timings.inference += batch.inference
        }
        metrics.countEmbeddings(sequences.count)
        metrics.countSuccess(method: method)
        let vectors = options.normalize ? raw.map { l2Normalized($0) } : raw
        return Embeddings(vectors: vectors, promptTokens: tokens, timings: timings)
    }

    /// The shared start of `embed` and `embedAll`: counts the request, checks the batch size, turns every
    /// input (texts or token ids) into a model input and checks the request's tokens; the tokenization
    /// time (and, with `countCharacters`, the characters) go into `timings`.
    private func prepare(_ inputs: EmbeddingInputs, options: EmbedOptions, field: String, countCharacters: Bool,
                         timings: inout RequestTimings) throws(APIError) -> (sequences: [[Int]], tokens: Int) {
        metrics.countRequest(method: inputs.isSingle ? "single" : "batch")
        try preparer.checkBatch(count: inputs.count, field: field)
        let tokenStart = ContinuousClock.now
        var sequences: [[Int]] = []
        switch inputs {
        case let .texts(texts, _):
            for text in texts {
                sequences.append(try preparer.embeddingInput(text: text, options: options, field: field))
                if countCharacters { timings.characters += text.count }
            }
        case let .tokens(lists, _):
            for ids in lists { sequences.append(try preparer.embeddingInput(tokens: ids, options: options, field: field)) }
        }
        try preparer.checkBatchTokens(sequences, field: field)
        return (sequences, recordTokenization(of: sequences, since: tokenStart, into: &timings))
    }

    /// Splits a client batch into engine batches of at most `maxBatchTokens` tokens (a longer single
    /// input runs alone), submitted one after the other so that other clients' requests are served
    /// between them instead of waiting for the whole of a 1000-text batch.
    func engineBatches(_ sequences: [[Int]]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0
        var tokens = 0
        for (i, s) in sequences.enumerated() {
            if i > start && tokens + s.count > config.maxBatchTokens {
                ranges.append(start..<i)
                start = i
                tokens = 0
            }
            tokens += s.count
        }
        if start < sequences.count { ranges.append(start..<sequences.count) }
        return ranges
    }

    /// Per-token embeddings (TEI's `/embed_all`): the task head applied to the final hidden state of
    /// every model input position, not normalised. The row of the (last) EOS equals the pooled
    /// embedding of the single protocol before normalisation.
    func embedAll(_ inputs: EmbeddingInputs, options: EmbedOptions, field: String,
                  timings: RequestTimings) async throws(APIError) -> (tokens: [[[Float]]], timings: RequestTimings) {
        var timings = timings
        let sequences = try prepare(inputs, options: options, field: field, countCharacters: false, timings: &timings).sequences
        let model = served.model
        let task = options.task
        var result: [[[Float]]] = []
        for chunk in engineBatches(sequences) {
            let part = Array(sequences[chunk])
            let (rows, batch) = try await batcher.exclusive { workspace -> [[[Float]]] in
                var states = part.map { _ in model.zeroState() }
                let outputs = try model.forward(part, states: &states, outputs: .all, workspace: workspace)
                return outputs.map { out in
                    model.embed(pooled: (0..<out.rowCount).map { Array(out.row($0)) }, task: task, normalize: false)
                }
            }
            result += rows
            timings.queue += batch.queue
            timings.inference += batch.inference
        }
        return (result, timings)
    }

    /// Records the tokenization stage of a request (its duration and tokens) in its timings and the
    /// metrics; returns the token count.
    private func recordTokenization(of sequences: [[Int]], since start: ContinuousClock.Instant,
                                    into timings: inout RequestTimings) -> Int {
        timings.tokenization = ContinuousClock.now - start
        metrics.tokenizationDuration.record(timings.tokenization)
        let tokens = sequences.reduce(0) { $0 + $1.count }
        timings.tokens = tokens
        metrics.inputLength.record(Double(tokens))
        metrics.countTokens(tokens)
        return tokens
    }

    struct Scores: Sendable {
        var scores: [RerankScore]
        var tokens: Int
        var timings: RequestTimings
    }

    /// Online state-reranker scores of `documents` for `query`, in input order.
    func rerank(query: String, documents: [String], truncate: Bool?, direction: String?, field: String,
                maxDocumentTokens: Int? = nil, timings: RequestTimings) async throws(APIError) -> Scores {
        if let m = maxDocumentTokens, m < 1 {
            throw APIError.validation("`max_tokens_per_doc` must be at least 1", param: "max_tokens_per_doc")
        }
        metrics.countRequest(method: "batch")
        var timings = timings
        guard let reranker = served.reranker else {
            throw APIError(.modelType, "model is not a re-ranker model: this server was started without a reranker")
        }
        guard !query.isEmpty else { throw .validation("`query` cannot be empty", param: "query") }
        try preparer.checkBatch(count: documents.count, field: field)
        let dir = try TruncationDirection(parsing: direction)
        let tokenStart = ContinuousClock.now
        var sequences: [[Int]] = []
        for doc in documents {
            sequences.append(try preparer.rerankInput(reranker: reranker, query: query, document: doc,
                                                      truncate: truncate ?? config.autoTruncate, direction: dir,
                                                      maxDocumentTokens: maxDocumentTokens))
            timings.characters += doc.count + query.count
        }
        try preparer.checkBatchTokens(sequences, field: field)
        let tokens = recordTokenization(of: sequences, since: tokenStart, into: &timings)

        var scores: [RerankScore] = []
        scores.reserveCapacity(sequences.count)
        for chunk in engineBatches(sequences) {
            let (part, batch) = try await batcher.rerank(Array(sequences[chunk]))
            scores += part
            timings.queue += batch.queue
            timings.inference += batch.inference
        }
        metrics.countSuccess(method: "batch")
        return Scores(scores: scores, tokens: tokens, timings: timings)
    }

}
