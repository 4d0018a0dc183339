import RWKVTokenizer

/// Text -> embedding: tokenizer + model + input protocol + task head.
public struct Embedder: Sendable {
    public let model: RWKVModel
    public let tokenizer: WorldTokenizer
    public var task: EmbeddingTask
    public var inputProtocol: InputProtocol
    /// L2-normalise the embeddings (off by default, like the reference).
    public var normalize: Bool
    /// The state after each instruction's `Instruct: {instruction}\nQuery:` (made on first use).
    private let queryPrefixes = PrefixStateCache()

    /// The reference's default retrieval instruction for queries.
    public static let defaultInstruction = "Given a query, retrieve documents that answer the query"

    public init(model: RWKVModel, tokenizer: WorldTokenizer, task: EmbeddingTask = .retrieval,
                inputProtocol: InputProtocol = .single, normalize: Bool = false) {
        self.model = model
        self.tokenizer = tokenizer
        self.task = task
        self.inputProtocol = inputProtocol
        self.normalize = normalize
    }

    /// `Instruct: {task}\nQuery: {query}` (documents get no instruction).
    public static func query(_ query: String, instruction: String = defaultInstruction) -> String {
        "Instruct: \(instruction)\nQuery: \(query)"
    }

    /// The model input of a text under the configured protocol.
    public func tokens(for text: String) -> [Int] {
        inputProtocol.input(for: tokenizer.encode(text, addEOS: false))
    }

    /// Embeddings of documents (or already formatted texts), batched in one forward pass.
    public func embed(_ texts: [String], workspace: Workspace? = nil) throws(RWKVError) -> [[Float]] {
        guard !texts.isEmpty else { return [] }
        return try model.embed(texts.map(tokens(for:)), task: task, normalize: normalize, workspace: workspace)
    }

    public func embed(_ text: String, workspace: Workspace? = nil) throws(RWKVError) -> [Float] {
        try embed([text], workspace: workspace)[0]
    }

    /// Embeddings of queries, each wrapped in the instruction template. The template's fixed start runs once
    /// per instruction (`queryPrefix`); each query runs only the rest where its ids start with it.
    public func embedQueries(_ queries: [String], instruction: String = defaultInstruction,
                             workspace: Workspace? = nil) throws(RWKVError) -> [[Float]] {
        guard !queries.isEmpty else { return [] }
        let sequences = queries.map { tokens(for: Self.query($0, instruction: instruction)) }
        return try model.embed(sequences, task: task, normalize: normalize, prefix: try queryPrefix(instruction),
                               workspace: workspace)
    }

    /// `Instruct: {instruction}\nQuery: ` without its last token (greedy longest match merges the trailing
    /// space into the query's first word) and the state after it.
    public func queryPrefix(_ instruction: String) throws(RWKVError) -> PrefixState {
        try queryPrefixes.prefix(for: instruction) { () throws(RWKVError) -> PrefixState in
            let ids = Array(tokenizer.encode(Self.query("", instruction: instruction), addEOS: false).dropLast())
            return try PrefixState(model: model, ids: ids)
        }
    }
}
