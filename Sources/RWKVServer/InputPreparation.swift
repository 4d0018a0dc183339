import EmbeddingRWKV
import RWKVTokenizer

/// Which end of an over-long input is cut.
enum TruncationDirection: Sendable {
    case left, right

    init(parsing value: String?) throws(APIError) {
        switch value?.lowercased() {
        case nil, "right": self = .right
        case "left": self = .left
        default: throw .validation("`truncation_direction` must be \"Left\" or \"Right\"", param: "truncation_direction")
        }
    }
}

/// Per-request choices of how texts become model inputs.
struct EmbedOptions: Sendable {
    var task: EmbeddingTask = .retrieval
    var inputProtocol: InputProtocol = .single
    /// When set, texts are wrapped as `Instruct: {instruction}\nQuery: {text}`.
    var instruction: String?
    var normalize: Bool = true
    var truncate: Bool = false
    var direction: TruncationDirection = .right

    init(task: String?, protocol proto: String?, instruction: String?, normalize: Bool?,
         truncate: Bool?, direction: String?, config: ServerConfiguration) throws(APIError) {
        if let task {
            guard let t = EmbeddingTask(parsing: task) else {
                throw .validation("`task` must be one of retr, sts, cls (got \"\(task)\")", param: "task")
            }
            self.task = t
        }
        if let proto {
            guard let p = InputProtocol(rawValue: proto.lowercased()) else {
                throw .validation("`protocol` must be single or paper (got \"\(proto)\")", param: "protocol")
            }
            inputProtocol = p
        }
        self.instruction = instruction
        self.normalize = normalize ?? true
        self.truncate = truncate ?? config.autoTruncate
        self.direction = try TruncationDirection(parsing: direction)
    }
}

extension EmbedOptions {
    /// The instruction a request asks for: `instruction` itself, or TEI's `prompt_name` preset
    /// ("query": the default retrieval instruction; "document" / "passage": none).
    static func instruction(_ instruction: String?, promptName: String?) throws(APIError) -> String? {
        if let instruction { return instruction }
        guard let prompt = promptName else { return nil }
        switch prompt.lowercased() {
        case "query": return Embedder.defaultInstruction
        case "document", "passage": return nil
        default:
            throw APIError.validation("`prompt_name` must be \"query\", \"document\" or \"passage\" (got \"\(prompt)\")", param: "prompt_name")
        }
    }

    /// `dimensions` other than the model's width are refused: EmbeddingRWKV was not trained for
    /// truncated (Matryoshka) embeddings, so cutting the vector would lose quality silently.
    static func checkDimensions(_ dimensions: Int?, width: Int) throws(APIError) {
        guard let d = dimensions, d != width else { return }
        throw APIError.validation("`dimensions` must be \(width) (or left out): this model was not trained for truncated "
                                  + "(Matryoshka) embeddings, so it only returns its full width", param: "dimensions")
    }
}

extension EmbeddingTask {
    init?(parsing value: String) {
        switch value.lowercased() {
        case "retr", "retrieval", "[retr]", "query", "passage", "document": self = .retrieval
        case "sts", "similarity", "[sts]": self = .similarity
        case "cls", "classification", "[cls]": self = .classification
        default: return nil
        }
    }
}

/// Text -> validated model input tokens, with the limits of the configuration.
struct InputPreparer: Sendable {
    let served: ServedModel
    let config: ServerConfiguration

    /// Checks the batch size (empty batches and batches over `maxClientBatchSize` are refused).
    func checkBatch(count: Int, field: String) throws(APIError) {
        guard count > 0 else { throw APIError(.empty, "`\(field)` cannot be empty", param: field) }
        guard count <= config.maxClientBatchSize else {
            throw APIError(.batchTooLarge, "batch size \(count) > maximum allowed batch size \(config.maxClientBatchSize)", param: field)
        }
    }

    /// Checks the model input tokens of a whole request against `maxClientBatchTokens`.
    func checkBatchTokens(_ sequences: [[Int]], field: String) throws(APIError) {
        let tokens = sequences.reduce(0) { $0 + $1.count }
        guard tokens <= config.maxClientBatchTokens else {
            throw APIError(.batchTooLarge, "the request has \(tokens) tokens in all > maximum allowed \(config.maxClientBatchTokens) tokens per request", param: field)
        }
    }

    /// Cuts or refuses `tokens` longer than `limit`.
    func fit(_ tokens: [Int], limit: Int, truncate: Bool, direction: TruncationDirection, field: String) throws(APIError) -> [Int] {
        guard tokens.count > limit else { return tokens }
        guard truncate else {
            throw APIError(.inputTooLarge, "input validation error: `\(field)` must have less than \(limit) tokens. Given: \(tokens.count)", param: field)
        }
        return direction == .right ? Array(tokens.prefix(limit)) : Array(tokens.suffix(limit))
    }

    /// The model input of one embedding text (text tokens limited, then the protocol's EOS layout).
    func embeddingInput(text: String, options: EmbedOptions, field: String) throws(APIError) -> [Int] {
        let formatted = options.instruction.map { Embedder.query(text, instruction: $0) } ?? text
        guard !formatted.isEmpty else { throw .validation("`\(field)` cannot contain an empty text", param: field) }
        let tokens = served.tokenizer.encode(formatted, addEOS: false)
        return options.inputProtocol.input(for: try fit(tokens, limit: config.maxInputLength, truncate: options.truncate,
                                                        direction: options.direction, field: field))
    }

    /// The model input of one embedding given as token ids (checked against the vocabulary).
    func embeddingInput(tokens: [Int], options: EmbedOptions, field: String) throws(APIError) -> [Int] {
        guard !tokens.isEmpty else { throw .validation("`\(field)` cannot contain an empty token list", param: field) }
        let vocabulary = served.model.architecture.vocabularySize
        for id in tokens where id < 0 || id >= vocabulary {
            throw APIError(.tokenizer, "token id \(id) is outside the vocabulary 0..<\(vocabulary)", param: field)
        }
        // An input that already ends with EOS is taken as a complete model input.
        var body = tokens
        if body.last == RWKVModel.eos { body.removeLast() }
        return options.inputProtocol.input(for: try fit(body, limit: config.maxInputLength, truncate: options.truncate,
                                                        direction: options.direction, field: field))
    }

    /// The online rerank input of a (query, document) pair: the document is cut to fit the limit.
    func rerankInput(reranker: StateReranker, query: String, document: String, truncate: Bool,
                     direction: TruncationDirection, maxDocumentTokens: Int? = nil) throws(APIError) -> [Int] {
        switch reranker.fittedOnlineTokens(query: query, document: document, maxDocumentTokens: maxDocumentTokens,
                                           limit: config.maxInputLength, truncate: truncate, keepEnd: direction == .left) {
        case let .tokens(tokens):
            return tokens
        case let .tooLong(count, afterDocumentCap):
            throw APIError(.inputTooLarge, "input validation error: query and text must have less than \(config.maxInputLength) tokens together. Given: \(count)",
                           param: afterDocumentCap ? "documents" : "texts")
        case .queryTooLong:
            throw .validation("the query alone exceeds the maximum input length \(config.maxInputLength)", param: "query")
        }
    }
}
