import Prometheus
import RWKVRetrieval

/// Our own families for served collections (`rwkv_emb_collection_*`, label `collection`): size gauges set
/// when `/metrics` is scraped, search stage latencies, and how often reranking found a cached state.
extension ServerMetrics {
    static let stageBuckets: [Duration] = [
        .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(10),
    ]

    /// `rwkv_emb_collection_documents`, `_passages`, `_text_bytes`, `_bytes` (on disk: SQLite + segments),
    /// `_dead_bytes` (what compaction reclaims), `_sqlite_bytes`.
    func setCollection(name: String, stats s: CollectionStats) {
        let gauges: [(String, String, Int)] = [
            ("rwkv_emb_collection_documents", "Documents in a served collection", s.documents),
            ("rwkv_emb_collection_passages", "Passages in a served collection", s.passages),
            ("rwkv_emb_collection_text_bytes", "Bytes of document text in a served collection", s.textBytes),
            ("rwkv_emb_collection_bytes", "Bytes on disk of a served collection (SQLite files and segments)", s.totalBytes),
            ("rwkv_emb_collection_dead_bytes", "Segment bytes of replaced or deleted passages (reclaimed by compaction)", s.deadBytes),
            ("rwkv_emb_collection_sqlite_bytes", "Bytes of a served collection's SQLite files", s.sqliteBytes),
        ]
        for (metric, help, value) in gauges {
            registry.makeGauge(descriptor: Self.d(metric, help), labels: [("collection", name)]).set(Int64(value))
        }
    }

    /// One search: the duration of each stage it ran (`rwkv_emb_collection_search_stage_duration{collection,
    /// stage="filter"|"dense"|"lexical"|"fusion"|"state_load"|"rerank"}`, seconds) and its reranked candidates
    /// as state-cache hits or misses.
    func observeSearch(collection: String, mode: SearchMode, filtered: Bool, result: SearchResult) {
        let t = result.timings
        var stages: [(String, Double)] = []
        if filtered { stages.append(("filter", t.filter)) }
        if mode != .lexical { stages.append(("dense", t.retrieval)) }
        if mode != .dense { stages.append(("lexical", t.lexical)) }
        if mode == .hybrid { stages.append(("fusion", t.fusion)) }
        if result.candidatesReranked > 0 { stages += [("state_load", t.stateLoad), ("rerank", t.rerank)] }
        for (stage, seconds) in stages {
            registry.makeDurationHistogram(descriptor: Self.d("rwkv_emb_collection_search_stage_duration", "Duration of a collection search stage"),
                                           labels: [("collection", collection), ("stage", stage)], buckets: Self.stageBuckets)
                .record(.nanoseconds(Int64(seconds * 1e9)))
        }
        let misses = result.onlineFallbacks + result.damaged.count
        countStateCache(collection: collection, hits: max(0, result.candidatesReranked - misses), misses: misses)
    }

    /// One `/collections/{name}/rerank`: its passages as state-cache hits (scored from a cached state) or misses.
    func observeRerank(collection: String, result: RerankResult) {
        let hits = result.scores.filter { $0?.mode == .offline }.count
        countStateCache(collection: collection, hits: hits, misses: result.online + result.damaged.count)
    }

    /// `rwkv_emb_collection_state_cache_hits` (passages reranked from their cached state) and `_misses`
    /// (passages without a usable one: reranked online from their text, or excluded as damaged).
    private func countStateCache(collection: String, hits: Int, misses: Int) {
        registry.makeCounter(descriptor: Self.d("rwkv_emb_collection_state_cache_hits", "Passages reranked from their cached state"),
                             labels: [("collection", collection)]).increment(by: Int64(hits))
        registry.makeCounter(descriptor: Self.d("rwkv_emb_collection_state_cache_misses",
                                                "Passages reranked without a usable cached state (online, or excluded as damaged)"),
                             labels: [("collection", collection)]).increment(by: Int64(misses))
    }
}
