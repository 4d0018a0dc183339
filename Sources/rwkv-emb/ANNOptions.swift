import ArgumentParser
import RWKVRetrieval

/// `--ann auto|hnsw|none` and the HNSW parameters (index); the `stats` lines about them.
struct ANNOptions: ParsableArguments {
    @Option(help: "ANN index for the dense stage: auto (HNSW from --ann-threshold passages), hnsw (always) or none (exact scan).")
    var ann: ANNKind?

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
        guard ann != nil || annM != nil || annEfConstruction != nil || annEfSearch != nil || annThreshold != nil else { return }
        var s = collection.annSettings
        if let ann { s.kind = ann }
        if let annM { s.m = annM }
        if let annEfConstruction { s.efConstruction = annEfConstruction }
        if let annEfSearch { s.efSearch = annEfSearch }
        if let annThreshold { s.threshold = annThreshold }
        try collection.setANNSettings(s)
    }

    static func describe(_ a: ANNStats, stats s: CollectionStats) -> String {
        let p = a.settings
        var line = "ann: \(p.kind.rawValue) (M \(p.m), efConstruction \(p.efConstruction), efSearch \(p.efSearch), threshold \(p.threshold), filter exact limit \(p.filterExactLimit)); "
        line += a.file.map { "index \($0): \(a.elements) elements, \(a.fileBytes) bytes on disk" } ?? "no index file"
        if a.memoryBytes > 0 { line += ", \(a.memoryBytes) bytes in memory (\(a.deleted) deleted)" }
        let d = s.dimension
        let states = StatePrecision.allCases.map { "\($0.rawValue) \(StateCodec(precision: $0, layerCount: s.stateLayers, embeddingSize: d).blobBytes)" }
        line += "\nbytes per passage by option: embedding fp32 \(d * 4) (mapped); HNSW ~\(HNSWSizes.memoryBytesPerVector(dimension: d, m: p.m)) in memory; "
        line += "codes int8 \(d + 4), binary \((d + 63) / 64 * 8); states \(states.joined(separator: ", "))"
        return line
    }
}

extension ANNKind: ExpressibleByArgument {}
