/// One document of a listing as JSON, one shape for `rwkv-emb list --json` (a line each) and the
/// server's document list route (the items of the OpenAPI document's `DocumentListResponse`).
public struct DocumentListItem: Codable, Sendable {
    public var id: String
    public var text_bytes: Int
    public var embedding_tokens: Int
    public var state_tokens: Int
    public var has_state: Bool
    public var passages: Int
    public var metadata: JSONValue?

    public init(_ summary: DocumentSummary) {
        id = summary.id
        text_bytes = summary.textBytes
        embedding_tokens = summary.embeddingTokens
        state_tokens = summary.stateTokens
        has_state = summary.hasState
        passages = summary.passages
        metadata = summary.metadata.map(JSONValue.init(parsing:))
    }
}
