/// What happened to one document of an `add`.
public struct AddedDocument: Sendable, Equatable {
    public enum Outcome: String, Sendable { case added, updated, unchanged }
    public var id: String
    public var outcome: Outcome
    /// Tokens processed (0 when unchanged).
    public var tokens: Int
    /// Passages stored for it (0 when unchanged).
    public var passages: Int = 0
}

/// Reported after each committed (durable) batch.
public struct AddProgress: Sendable {
    public var documentsDone: Int
    public var documentsTotal: Int
    /// Model tokens processed so far (embedding input + state template).
    public var tokensDone: Int
    /// The documents of this batch, durable now.
    public var committed: [AddedDocument]
    /// Seconds so far in: tokenizing, splitting and hashing, the model passes, encoding states, writing + fsync + commit.
    public var prepareSeconds = 0.0, computeSeconds = 0.0, encodeSeconds = 0.0, writeSeconds = 0.0
}

public struct AddOptions: Sendable {
    /// A batch is closed at this many documents or `batchTokens` tokens, whichever comes first (a
    /// document's passages always go in one batch: its replacement is one transaction).
    public var batchDocuments: Int = 64
    public var batchTokens: Int = 8192
    /// Compute and store reranker states for the passages the collection's `stateRetention` names
    /// (false: for none of this add's passages; search reranks passages without one online).
    public var storeStates: Bool = true
    /// Compute documents again even when their stored text and metadata are unchanged (`verify --recompute`).
    var replaceUnchanged = false
    public init(batchDocuments: Int = 64, batchTokens: Int = 8192, storeStates: Bool = true) {
        self.batchDocuments = batchDocuments
        self.batchTokens = batchTokens
        self.storeStates = storeStates
    }
}

/// When compaction runs by itself (after an add or delete): dead bytes above `deadShare` of the
/// segment bytes and at least `minimumDeadBytes`. nil `deadShare`: never automatically.
public struct CompactionPolicy: Sendable, Equatable {
    public var deadShare: Double?
    public var minimumDeadBytes: Int
    public init(deadShare: Double? = 0.5, minimumDeadBytes: Int = 16 << 20) {
        self.deadShare = deadShare
        self.minimumDeadBytes = minimumDeadBytes
    }
}

/// What `compact` did.
public struct CompactionReport: Sendable, Equatable {
    /// Segment files (embedding + state) before and after, and their bytes.
    public var segmentsBefore: Int
    public var segmentsAfter: Int
    public var bytesBefore: Int
    public var bytesAfter: Int
    /// Live passages whose rows and states were copied.
    public var passagesMoved: Int
    /// Bytes written into the new segments.
    public var bytesCopied: Int
    public var seconds: Double
    /// Where `seconds` went: choosing the pairs and passages; copying, fsync'ing and checksumming the
    /// new segments; the switch transaction (prepared while the copy runs: what it adds after it).
    public var planSeconds = 0.0
    public var copySeconds = 0.0
    public var switchSeconds = 0.0
    /// This process's view following the moves (the old files are unlinked afterwards in the background:
    /// `DocumentCollection.waitForFileRemovals()`).
    public var viewSeconds = 0.0
    /// Whether a rebuild of the ANN index without its deleted labels started in the background
    /// (`DocumentCollection.waitForIndexRebuild()` waits for it; searches use the old graph meanwhile).
    public var annRebuildStarted = false
}
