import EmbeddingRWKV
import Hummingbird

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

    static func ms(_ d: Duration) -> String {
        let c = d.components
        return String(c.seconds * 1000 + c.attoseconds / 1_000_000_000_000_000)
    }
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
        try preparer.checkBatch(count: inputs.count, field: field)
        let tokenStart = ContinuousClock.now
        var sequences: [[Int]] = []
        switch inputs {
        case let .texts(texts, _):
            for text in texts {
                sequences.append(try preparer.embeddingInput(text: text, options: options, field: field))
                timings.characters += text.count
            }
        case let .tokens(lists, _):
            for ids in lists { sequences.append(try preparer.embeddingInput(tokens: ids, options: options, field: field)) }
        }
        let tokens = recordTokenization(of: sequences, since: tokenStart, into: &timings)

        let (raw, batch) = try await batcher.embed(sequences, task: options.task)
        timings.queue = batch.queue
        timings.inference = batch.inference
        let vectors = options.normalize ? raw.map(Self.normalized) : raw
        return Embeddings(vectors: vectors, promptTokens: tokens, timings: timings)
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
                timings: RequestTimings) async throws(APIError) -> Scores {
        var timings = timings
        guard let reranker = served.reranker else {
            throw APIError(.validation, "this server has no reranker: start it with `--reranker <checkpoint>`")
        }
        guard !query.isEmpty else { throw .validation("`query` cannot be empty", param: "query") }
        try preparer.checkBatch(count: documents.count, field: field)
        let dir = try TruncationDirection(parsing: direction)
        let tokenStart = ContinuousClock.now
        var sequences: [[Int]] = []
        for doc in documents {
            sequences.append(try preparer.rerankInput(reranker: reranker, query: query, document: doc,
                                                      truncate: truncate ?? config.autoTruncate, direction: dir))
            timings.characters += doc.count + query.count
        }
        let tokens = recordTokenization(of: sequences, since: tokenStart, into: &timings)

        let (scores, batch) = try await batcher.rerank(sequences)
        timings.queue = batch.queue
        timings.inference = batch.inference
        return Scores(scores: scores, tokens: tokens, timings: timings)
    }

    static func normalized(_ v: [Float]) -> [Float] {
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? v.map { $0 / norm } : v
    }
}
