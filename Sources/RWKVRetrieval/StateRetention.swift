/// Which passages of a document keep a cached reranker state (manifest key `states`). Passages without
/// one are reranked online when the first stage returns them (the whole template over the passage text,
/// `onlineFallbacks` in the result), so this trades state bytes on disk against rerank time.
/// Written `all`, `none` or `first:N` (the CLI's `--states`, the HTTP `states` field).
public enum StateRetention: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// Every passage (the default).
    case all
    /// No passage: every candidate is reranked online.
    case none
    /// The first N passages of each document (a document's opening passages are the ones most often
    /// returned for it; later ones are reranked online when they are).
    case leading(Int)

    /// Whether the passage at `ordinal` (0-based within its document) keeps a state.
    public func keeps(ordinal: Int) -> Bool {
        switch self {
        case .all: true
        case .none: false
        case let .leading(n): ordinal < n
        }
    }

    public var description: String {
        switch self {
        case .all: "all"
        case .none: "none"
        case let .leading(n): "first:\(n)"
        }
    }

    /// Parses `all`, `none` or `first:N` (N >= 1); the error names what is wrong.
    public init(parsing text: String) throws {
        switch text.lowercased() {
        case "all": self = .all
        case "none": self = .none
        case let t where t.hasPrefix("first:"):
            guard let n = Int(t.dropFirst("first:".count)), n >= 1 else {
                throw RetrievalError.invalidInput("states \"\(text)\": N in first:N must be a whole number >= 1")
            }
            self = .leading(n)
        default:
            throw RetrievalError.invalidInput("states \"\(text)\" must be all, none or first:N")
        }
    }
}

extension StateRetention: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

extension DocumentCollection {
    static let stateRetentionKey = "states"

    /// The collection's state retention (manifest key `states`; `all` when absent). `add` applies it
    /// unless the add says `storeStates: false`.
    public var stateRetention: StateRetention {
        let stored: StateRetention? = try? readManifestValue(Self.stateRetentionKey)
        return stored ?? .all
    }

    /// Changes the retention (one manifest row). Documents already stored keep their states until they
    /// are added again: an unchanged document whose stored states differ from the retention is recomputed.
    public func setStateRetention(_ retention: StateRetention) throws {
        try requireWritable()
        if case let .leading(n) = retention, n < 1 { throw RetrievalError.invalidInput("states first:N needs N >= 1 (got \(n))") }
        writer.lock()
        defer { writer.unlock() }
        let json = try Self.manifestJSON(retention)
        do {
            try db.write { db in
                try db.execute(sql: "INSERT OR REPLACE INTO manifest (key, value) VALUES (?, ?)", arguments: [Self.stateRetentionKey, json])
            }
        } catch { throw RetrievalError.database(path: Self.databaseURL(url).path, message: "\(error)") }
    }
}
