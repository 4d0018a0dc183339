import RWKVTokenizer

/// State-based reranking: the embedding model reads `Instruct ...\nDocument: {doc}\nQuery: {query}` + EOS,
/// and the reranker network scores the WKV states of its layers. Only layers 0...max(layerIndices) of
/// the embedding model are ever run.
///
/// - online: the whole template from a zero state, per pair;
/// - offline: `documentState(for:)` once per document (cacheable, sliced to the needed layers), then per
///   query only `Query: {query}` + EOS on top of each cached state (`rerankOffline`).
public struct StateReranker: Sendable {
    public let model: RWKVModel
    public let network: RerankerNetwork
    public let tokenizer: WorldTokenizer

    public static let instruction = "Instruct: Given a query, retrieve documents that answer the query\n"
    /// The text a cached document state is computed from, `{text}` standing for the document: what a
    /// collection's manifest records (`documentTokens` builds the same text around the document).
    public static let documentTemplate = instruction + "Document: {text}\n"

    /// The template's fixed start, `Instruct: ...\nDocument: ` without its last token, and the state after
    /// it (the reranker's layers), computed once: every document whose ids start with these ids runs only
    /// the rest, from this state (the same ids through the same recurrence). The last token is left out
    /// because greedy longest match merges the trailing space into the document's first word (" the"); a
    /// document whose ids still differ runs from the zero state.
    public let templatePrefix: (ids: [Int], state: RWKVState)

    public init(model: RWKVModel, network: RerankerNetwork, tokenizer: WorldTokenizer) throws(RWKVError) {
        try network.check(pairedWith: model)
        self.model = model
        self.network = network
        self.tokenizer = tokenizer
        let ids = Array(tokenizer.encode(Self.instruction + "Document: ", addEOS: false).dropLast())
        var state = model.zeroState(layers: network.requiredLayers)
        _ = try model.forward(ids, state: &state)
        templatePrefix = (ids, state)
    }

    /// Embedding-model layers a cached document state holds.
    public var stateLayers: Int { network.requiredLayers }

    // MARK: text API

    /// The cacheable state of a document: the model after `Instruct: ...\nDocument: {doc}\n` (no EOS).
    public func documentState(for document: String, workspace: Workspace? = nil) throws(RWKVError) -> RWKVState {
        try documentStates(for: [document], workspace: workspace)[0]
    }

    public func documentStates(for documents: [String], workspace: Workspace? = nil) throws(RWKVError) -> [RWKVState] {
        try documentStates(tokens: documents.map(documentTokens), workspace: workspace)
    }

    /// Scores of one query against cached document states (one batched pass).
    public func rerankOffline(query: String, documentStates: [RWKVState], workspace: Workspace? = nil) throws(RWKVError) -> [RerankScore] {
        try rerankOffline(queryTokens: queryTokens(query), documentStates: documentStates, workspace: workspace)
    }

    /// Scores of one query against documents, each pair read in full from a zero state.
    public func rerankOnline(query: String, documents: [String], workspace: Workspace? = nil) throws(RWKVError) -> [RerankScore] {
        try rerankOnline(tokens: documents.map { onlineTokens(query: query, document: $0) }, workspace: workspace)
    }

    // MARK: templates

    public func documentTokens(_ document: String) -> [Int] {
        tokenizer.encode(Self.instruction + "Document: \(document)\n", addEOS: false)
    }

    public func queryTokens(_ query: String) -> [Int] {
        tokenizer.encode("Query: \(query)", addEOS: true)
    }

    public func onlineTokens(query: String, document: String) -> [Int] {
        tokenizer.encode(Self.instruction + "Document: \(document)\nQuery: \(query)", addEOS: true)
    }

    // MARK: token API

    /// States after `tokens` from the zero state; sequences that start with `templatePrefix.ids` run only
    /// their remainder, from the prefix's state.
    public func documentStates(tokens: [[Int]], workspace: Workspace? = nil) throws(RWKVError) -> [RWKVState] {
        let prefix = templatePrefix.ids
        let zero = model.zeroState(layers: stateLayers)
        var sources: [RWKVState] = [], remainders: [[Int]] = []
        sources.reserveCapacity(tokens.count)
        remainders.reserveCapacity(tokens.count)
        for t in tokens {
            if !prefix.isEmpty && t.starts(with: prefix) {
                sources.append(templatePrefix.state)
                remainders.append(Array(t[prefix.count...]))
            } else {
                sources.append(zero)
                remainders.append(t)
            }
        }
        return try model.forward(remainders, from: sources, workspace: workspace).states
    }

    /// `documentStates(tokens:)` without the prefix state: every sequence from the zero state (the reference
    /// the prefix cache is tested and measured against).
    public func documentStatesFromZero(tokens: [[Int]], workspace: Workspace? = nil) throws(RWKVError) -> [RWKVState] {
        var states = tokens.map { _ in model.zeroState(layers: stateLayers) }
        _ = try model.forward(tokens, states: &states, workspace: workspace)
        return states
    }

    public func rerankOffline(queryTokens: [Int], documentStates: [RWKVState], workspace: Workspace? = nil) throws(RWKVError) -> [RerankScore] {
        guard !documentStates.isEmpty else { return [] }
        // States may be deeper than needed (e.g. full states): run only the reranker's layers.
        let sources = documentStates.map { $0.layerCount == stateLayers ? $0 : $0.sliced(layers: 0..<min(stateLayers, $0.layerCount)) }
        let (_, states) = try model.forward(Array(repeating: queryTokens, count: sources.count), from: sources, workspace: workspace)
        return try network.logits(states, workspace: workspace).map(RerankScore.init(logit:))
    }

    public func rerankOnline(tokens: [[Int]], workspace: Workspace? = nil) throws(RWKVError) -> [RerankScore] {
        let states = try documentStates(tokens: tokens, workspace: workspace)
        return try network.logits(states, workspace: workspace).map(RerankScore.init(logit:))
    }
}
