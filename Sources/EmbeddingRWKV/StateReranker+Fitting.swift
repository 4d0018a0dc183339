/// Fitting the online rerank template to a token limit: the template and the query are kept, the
/// document is cut (the reranker owns its template, so callers never rebuild it).
extension StateReranker {
    /// An online input cut to a limit, or why it cannot be.
    public enum FittedInput: Equatable, Sendable {
        case tokens([Int])
        /// Over the limit and cutting was not allowed: `count` tokens without EOS.
        /// `afterDocumentCap`: the document had already been cut to `maxDocumentTokens`.
        case tooLong(count: Int, afterDocumentCap: Bool)
        /// The template and the query alone do not fit.
        case queryTooLong
    }

    /// The online template's pieces around the document: `Instruct: ...\nDocument: ` and
    /// `\nQuery: {query}` + EOS.
    public func onlineTemplate(query: String) -> (head: [Int], tail: [Int]) {
        (tokenizer.encode(Self.instruction + "Document: ", addEOS: false), tokenizer.encode("\nQuery: \(query)", addEOS: true))
    }

    /// The online input of a (query, document) pair in at most `limit` tokens plus EOS.
    /// - maxDocumentTokens: the document is first cut to this many tokens (Cohere's `max_tokens_per_doc`).
    /// - truncate: cut the document to fit (else `.tooLong`); `keepEnd` keeps its end instead of its start
    ///   (a document already capped by `maxDocumentTokens` keeps its start).
    public func fittedOnlineTokens(query: String, document: String, maxDocumentTokens: Int? = nil, limit: Int,
                                   truncate: Bool, keepEnd: Bool = false) -> FittedInput {
        let withEOS = limit + 1  // the EOS is not counted
        if let maxDocumentTokens {
            let doc = tokenizer.encode(document, addEOS: false)
            if doc.count > maxDocumentTokens {
                let (head, tail) = onlineTemplate(query: query)
                let tokens = head + Array(doc.prefix(maxDocumentTokens)) + tail
                guard tokens.count > withEOS else { return .tokens(tokens) }
                guard truncate else { return .tooLong(count: tokens.count - 1, afterDocumentCap: true) }
                let room = withEOS - tail.count - head.count
                guard room > 0 else { return .queryTooLong }
                return .tokens(head + Array(doc.prefix(min(room, maxDocumentTokens))) + tail)
            }
        }
        let tokens = onlineTokens(query: query, document: document)
        guard tokens.count > withEOS else { return .tokens(tokens) }
        guard truncate else { return .tooLong(count: tokens.count - 1, afterDocumentCap: false) }
        let (head, tail) = onlineTemplate(query: query)
        let doc = tokenizer.encode(document, addEOS: false)
        let room = withEOS - tail.count - head.count
        guard room > 0 else { return .queryTooLong }
        return .tokens(head + (keepEnd ? Array(doc.suffix(room)) : Array(doc.prefix(room))) + tail)
    }
}
