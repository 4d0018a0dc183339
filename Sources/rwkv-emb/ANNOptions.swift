import ArgumentParser
import RWKVRetrieval

/// `--ann auto|hnsw|none|int8|binary` and the HNSW and codes parameters (index); the `stats` lines about them.
struct ANNOptions: ParsableArguments {
    @Option(help: "Dense stage: auto (HNSW from --ann-threshold passages), hnsw (always), none (exact scan), or int8 / binary (a scan of compressed codes in memory, rescored with the fp32 rows).")
    var ann: ANNKind?

    @Option(help: "int8 / binary: candidates rescored per hit wanted (default 2 for int8, 20 for binary).")
    var annOversample: Int?

    @Option(help: "HNSW links per node (default 16).")
    var annM: Int?

    @Option(help: "HNSW build-time search width (default 100).")
    var annEfConstruction: Int?

    @Option(help: "HNSW query-time search width (default 192).")
    var annEfSearch: Int?

    @Option(help: "auto: passages from which the index is used (default 20000).")
    var annThreshold: Int?

    /// Writes the given settings to the collection (nothing when none is given).
    func apply(to collection: DocumentCollection) throws {
        guard ann != nil || annM != nil || annEfConstruction != nil || annEfSearch != nil || annThreshold != nil || annOversample != nil else { return }
        var s = collection.annSettings
        if let ann { s.kind = ann }
        if let annM { s.m = annM }
        if let annEfConstruction { s.efConstruction = annEfConstruction }
        if let annEfSearch { s.efSearch = annEfSearch }
        if let annThreshold { s.threshold = annThreshold }
        if let annOversample { s.oversample = annOversample }
        try collection.setANNSettings(s)
    }

    static func describe(_ a: ANNStats, stats s: CollectionStats) -> String {
        let p = a.settings
        var line: String
        if let codes = p.kind.codesKind {
            line = "ann: \(p.kind.rawValue) codes, rescored x\(p.effectiveOversample(codes)) (filter exact limit \(p.filterExactLimit)); "
            line += "\(a.elements) rows encoded, \(a.memoryBytes) bytes in memory (\(a.deleted) dead), \(a.origin ?? "-")"
        } else {
            line = "ann: \(p.kind.rawValue) (M \(p.m), efConstruction \(p.efConstruction), efSearch \(p.efSearch), threshold \(p.threshold), filter exact limit \(p.filterExactLimit)); "
            line += a.file.map { "index \($0): \(a.elements) elements, \(a.fileBytes) bytes on disk" } ?? "no index file"
            if a.memoryBytes > 0 { line += ", \(a.memoryBytes) bytes in memory (\(a.deleted) deleted)" }
        }
        let d = s.dimension
        let states = StatePrecision.allCases.map { "\($0.rawValue) \(StateCodec(precision: $0, layerCount: s.stateLayers, embeddingSize: d).blobBytes)" }
        line += "\nbytes per passage by option: embedding fp32 \(d * 4) (mapped); HNSW ~\(HNSWSizes.memoryBytesPerVector(dimension: d, m: p.m)) in memory; "
        line += "codes int8 \(d + 4), binary \((d + 63) / 64 * 8); states \(states.joined(separator: ", "))"
        return line
    }
}

extension ANNKind: ExpressibleByArgument {}
