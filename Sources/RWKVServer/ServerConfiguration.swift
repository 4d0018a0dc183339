import Foundation

/// Everything `rwkv-emb serve` can be told: where to listen and the limits the service enforces.
public struct ServerConfiguration: Sendable {
    /// Address to bind (loopback by default).
    public var host: String = "127.0.0.1"
    /// Port to bind; 0 picks a free ephemeral port (read it back from `EmbeddingServer.onListening`).
    public var port: Int = 8080
    /// The model id reported by `/info`, `/v1/models` and OpenAI/Jina responses.
    public var modelID: String = "embedding-rwkv"
    /// Token budget of one coalesced forward pass (a single larger request still runs, alone).
    public var maxBatchTokens: Int = 16384
    /// Requests coalesced into one forward pass at most.
    public var maxBatchRequests: Int = 64
    /// Inputs one request may carry. Generous (TEI's default is 32) because common clients send
    /// large batches: LangChain `OpenAIEmbeddings` 1000 texts per call, LlamaIndex 100; the service
    /// splits them into engine batches of at most `maxBatchTokens` tokens.
    public var maxClientBatchSize: Int = 2048
    /// Model input tokens one request may carry in all (the real bound on a request's work).
    public var maxClientBatchTokens: Int = 1 << 20
    /// Tokens of one input text (before the EOS / protocol tokens are added).
    public var maxInputLength: Int = 8192
    /// In-flight requests beyond this are answered 429.
    public var maxConcurrentRequests: Int = 512
    /// Largest accepted request body in bytes (beyond: 413).
    public var payloadLimit: Int = 2 * 1024 * 1024
    /// Truncate over-long inputs even when the request does not ask for it.
    public var autoTruncate: Bool = false
    /// Bearer token required on every route but the public ones (nil: no auth); it has every scope.
    public var apiKey: String?
    /// More accepted keys, each with its scopes (`read`, `write`, `admin`); with `apiKey`, all of them work.
    public var apiKeys: [APIKey] = []
    /// Longest a client may take to send one request (head to end of body) before its connection is
    /// closed: a body trickled a byte at a time cannot hold a connection.
    public var requestReadTimeout: Duration = .seconds(30)
    /// An open connection that sends nothing for this long is closed (also slow headers).
    public var idleTimeout: Duration = .seconds(60)
    /// Connections served at once; more wait in the listen backlog until one closes (idle ones
    /// close after `idleTimeout`, so idle clients cannot hold every slot for long).
    public var maxConnections: Int = 1024
    /// Longest the worker waits for more requests before a pass when fewer are queued than the
    /// previous pass served (clients whose answers just went out are about to send again), and never
    /// longer than a fiftieth of the previous pass. Zero: never wait.
    public var batchLinger: Duration = .milliseconds(5)
    /// Rows per engine step of the inference worker's workspace.
    public var workspaceRows: Int = 2048
    /// Take token-id input on `/v1/embeddings`. Off by default: OpenAI clients (LangChain's
    /// `OpenAIEmbeddings` by default) send *tiktoken* ids, which are not RWKV ids, so embedding them
    /// would silently produce garbage.
    public var acceptTokenIDs: Bool = false
    /// Origins browsers may call from (CORS). nil: any origin (`*`), as TEI does by default.
    public var corsAllowOrigins: [String]? = nil
    /// Collection folders to serve (opened, or created when empty), named after the folder.
    public var collections: [URL] = []
    /// Where collections created through the API go (and whose collections are served); nil: no creation.
    public var collectionsRoot: URL?
    /// Test hook: sleep this long in the inference worker before each batch (0 in production).
    public var artificialInferenceDelay: Duration = .zero

    public init() {}

    /// Every accepted key (`apiKey` with all scopes first); empty: no authentication.
    var acceptedKeys: [APIKey] {
        (apiKey.flatMap { $0.isEmpty ? nil : [APIKey(secret: $0)] } ?? []) + apiKeys
    }
}
