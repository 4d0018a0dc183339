/// Whether a collection's dense stage uses an HNSW index (manifest key `ann`).
public enum ANNKind: String, Codable, Sendable, CaseIterable {
    /// The index from `ANNSettings.threshold` passages on, the exact scan below.
    case auto
    /// Always the index.
    case hnsw
    /// Always the exact scan (no index is built).
    case none
    /// A scan of int8 codes held in memory (per-row scale), the best k x `oversample` rescored exactly
    /// with the fp32 rows from the mapped segments.
    case int8
    /// The same with 1-bit codes (the signs, scored by Hamming distance): 32x smaller than int8.
    case binary

    /// The in-memory codes this kind scans, nil for the graph and the plain scan.
    public var codesKind: EmbeddingCodes.Kind? {
        switch self {
        case .int8: .int8
        case .binary: .binary
        case .auto, .hnsw, .none: nil
        }
    }
}

/// The ANN settings of a collection (manifest key `ann`; absent: the defaults).
public struct ANNSettings: Codable, Sendable, Equatable {
    public var kind: ANNKind
    /// HNSW links per node and build-time search width (`bench ann`, 50k clustered 768-d vectors: M 16,
    /// efConstruction 100 give recall@10 0.999 at efSearch 64, 0.994 at 32).
    public var m: Int
    public var efConstruction: Int
    /// Query-time search width (at least k). 192: at 1M clustered 768-d vectors (`bench ann`, AMD EPYC,
    /// 2 cores) recall@10 is 0.865 / 0.925 / 0.982 / 0.987 at 64 / 128 / 192 / 256, p50 0.49 / 0.65 /
    /// 0.71 / 0.94 ms, against 141-216 ms for the exact scan; at 200k, 64 already gave 0.995.
    public var efSearch: Int
    /// `auto`: the passages from which the index is used (below it the exact scan reads at most 61 MB
    /// of 768-d rows per query and is exact; the index costs ~3.3 kB per passage of RAM).
    public var threshold: Int
    /// Filtered queries: the matching passages up to which an exact gather over them is used.
    public var filterExactLimit: Int
    /// `int8` / `binary`: how many times k candidates the codes pass hands to the fp32 rescoring
    /// (nil: `defaultOversample`).
    public var oversample: Int?

    /// The oversampling used when `oversample` is nil, from `bench ann` at 1M clustered 768-d vectors
    /// (AMD EPYC, 2 cores): int8 x2 gave recall@10 1.000 (p50 29-47 ms, the exact scan 141 ms); binary
    /// x10 / x20 / x30 gave 0.824 / 0.990 / 1.000 at p50 7.5 / 7.2 / 8.0 ms, so binary takes 20.
    public static func defaultOversample(_ kind: EmbeddingCodes.Kind) -> Int {
        switch kind {
        case .int8: 2
        case .binary: 20
        }
    }

    /// The oversampling in force for `kind`'s codes.
    public func effectiveOversample(_ kind: EmbeddingCodes.Kind) -> Int { oversample ?? Self.defaultOversample(kind) }

    public init(kind: ANNKind = .auto, m: Int = 16, efConstruction: Int = 100, efSearch: Int = 192,
                threshold: Int = 20_000, filterExactLimit: Int = 20_000, oversample: Int? = nil) {
        self.kind = kind
        self.m = m
        self.efConstruction = efConstruction
        self.efSearch = efSearch
        self.threshold = threshold
        self.filterExactLimit = filterExactLimit
        self.oversample = oversample
    }

    /// Checks the ranges (a clear error instead of an index that cannot be built).
    public func validate() throws {
        guard (2...128).contains(m) else { throw RetrievalError.invalidInput("ann M must be in 2...128 (got \(m))") }
        guard (8...4096).contains(efConstruction) else { throw RetrievalError.invalidInput("ann efConstruction must be in 8...4096 (got \(efConstruction))") }
        guard (1...65536).contains(efSearch) else { throw RetrievalError.invalidInput("ann efSearch must be in 1...65536 (got \(efSearch))") }
        guard threshold >= 0, filterExactLimit >= 0 else { throw RetrievalError.invalidInput("ann threshold and filterExactLimit must be >= 0") }
        if let oversample, !(1...1000).contains(oversample) { throw RetrievalError.invalidInput("ann oversample must be in 1...1000 (got \(oversample))") }
    }
}

/// Which path the dense stage of a search took.
public enum DensePath: String, Codable, Sendable {
    /// The exact scan over every row.
    case exact
    /// The exact scan over the rows matching the filter.
    case exactFiltered = "exact-filtered"
    /// The HNSW index.
    case hnsw
    /// The HNSW index, widened until k matches of the filter were found.
    case hnswFiltered = "hnsw-filtered"
    /// The index returned fewer than k (deletions, a selective filter): the exact scan ran instead.
    case exactFallback = "exact-fallback"
    /// The scan of the int8 codes (masked by the filter, so never short), rescored with the fp32 rows.
    case int8Rescored = "int8-rescored"
    /// The scan of the 1-bit codes, rescored with the fp32 rows.
    case binaryRescored = "binary-rescored"
}

/// The persisted index (manifest key `annIndex`): its file in `segments/`, parameters and checksum, and
/// the highest passage id it holds (passages above it are added at open; deleted ids are marked then).
struct ANNIndexRecord: Codable, Sendable, Equatable {
    var file: String
    var generation: Int
    var dimension: Int
    var m: Int
    var efConstruction: Int
    var highestPassageID: Int64
    var elements: Int
    var bytes: Int
    var crc32c: UInt32
}

/// What `stats` reports about the index.
public struct ANNStats: Sendable, Codable {
    public var settings: ANNSettings
    /// "hnsw" when an index is in use, "int8" or "binary" when codes are, "none" otherwise.
    public var kind: String
    public var elements: Int
    public var deleted: Int
    public var memoryBytes: Int
    public var fileBytes: Int
    public var file: String?
    /// How the index was obtained in this process: "file", "built" (with the reason), or nil.
    public var origin: String?
    /// A rebuild after compaction is running in the background (searches use the old graph meanwhile).
    public var rebuilding: Bool?
}
