import Foundation
import Testing
import EmbeddingRWKV
import RWKVTestSupport

/// The engine against the reference outputs of both fixture models (max abs diff <= 1e-4).
@Suite struct FixtureParityTests {
    @Test(arguments: Fixtures.modelNames)
    func embeddingsAndStatesMatchTheReference(name: String) throws {
        let m = try TestModels.load(name)
        defer { DiffLog.report(name) }
        let eos = m.golden.eos
        for record in m.golden.embed {
            var state = m.model.zeroState()
            let out = try m.model.forward(record.ids, state: &state, outputs: .token(eos))
            let pooled = try #require(out.mean())
            for (task, expected) in [(EmbeddingTask.retrieval, record.retr), (.similarity, record.sts), (.classification, record.cls)] {
                let e = m.model.embed(pooled: [pooled], task: task)[0]
                let d = maxAbsDiff(e, expected)
                DiffLog.note("\(name) embed \(task.referenceName)", d)
                #expect(d <= tolerance, "\(name) \(task) '\(record.text.prefix(20))': \(d)")
            }
            let shift = (0..<m.model.layerCount).flatMap { state.shift(layer: $0) }
            let ds = maxAbsDiff(shift, record.stateShift)
            DiffLog.note("\(name) state_shift", ds)
            #expect(ds <= tolerance, "\(name) state_shift: \(ds)")
            let wkv = (0..<m.model.layerCount).flatMap { state.wkvReferenceLayout(layer: $0) }
            if let expected = record.stateWkv {
                let dw = maxAbsDiff(wkv, expected)
                DiffLog.note("\(name) state_wkv", dw)
                #expect(dw <= tolerance, "\(name) state_wkv: \(dw)")
            }
            let sum = wkv.reduce(0.0) { $0 + Double($1) }
            let absmax = wkv.reduce(0.0) { max($0, Double(abs($1))) }
            DiffLog.note("\(name) state_wkv_sum (relative)", abs(sum - record.stateWkvSum) / max(1, abs(record.stateWkvSum)))
            #expect(abs(sum - record.stateWkvSum) <= tolerance * max(1, abs(record.stateWkvSum)) * 10)
            DiffLog.note("\(name) state_wkv_absmax", abs(absmax - record.stateWkvAbsmax))
            #expect(abs(absmax - record.stateWkvAbsmax) <= tolerance)
        }
    }

    @Test(arguments: Fixtures.modelNames)
    func batchedEmbeddingsMatchTheReference(name: String) throws {
        let m = try TestModels.load(name)
        defer { DiffLog.report(name) }
        // All embed records in one ragged batch (no padding).
        let records = m.golden.embed
        let batch = try m.model.embed(records.map(\.ids), task: .retrieval)
        for (e, r) in zip(batch, records) {
            let d = maxAbsDiff(e, r.retr)
            DiffLog.note("\(name) embed batched", d)
            #expect(d <= tolerance)
        }
        // The reference's left-padded batch: pad 0 is an ordinary token.
        let padded = m.golden.embedPaddedBatch
        let embeddings = try m.model.embed(padded.ids)
        for (e, expected) in zip(embeddings, padded.embeddings) {
            let d = maxAbsDiff(e, expected)
            DiffLog.note("\(name) embed_padded_batch", d)
            #expect(d <= tolerance, "padded batch: \(d)")
        }
    }

    @Test(arguments: Fixtures.modelNames)
    func splitPassCarriesTheState(name: String) throws {
        let m = try TestModels.load(name)
        defer { DiffLog.report(name) }
        let split = m.golden.splitPass
        let bounds = [0] + split.cuts + [split.ids.count]
        var state = m.model.zeroState()
        var last = SequenceOutput(width: m.model.width)
        for i in 0..<(bounds.count - 1) {
            last = try m.model.forward(Array(split.ids[bounds[i]..<bounds[i + 1]]), state: &state, outputs: .token(m.golden.eos))
        }
        let e = m.model.embed(pooled: [try #require(last.mean())])[0]
        let d = maxAbsDiff(e, split.embedding)
        DiffLog.note("\(name) split_pass", d)
        #expect(d <= tolerance)
    }

    @Test(arguments: Fixtures.modelNames)
    func rerankerMatchesTheReference(name: String) throws {
        let m = try TestModels.load(name)
        defer { DiffLog.report(name) }
        let layers = m.reranker.requiredLayers
        #expect(m.reranker.layerIndices == (m.golden.rerankerLayerIdx ?? Array(0..<m.golden.nLayer)))
        // Online: the whole template from a zero state.
        for r in m.golden.rerankOnline {
            var states = [m.model.zeroState(layers: layers)]
            _ = try m.model.forward([r.ids], states: &states)
            let logit = try m.reranker.logits(states)[0]
            let d = abs(Double(logit) - r.logit)
            DiffLog.note("\(name) rerank_online", d)
            #expect(d <= tolerance, "online \(d)")
            #expect(abs(Double(RerankScore(logit: logit).score) - r.score) <= tolerance)
        }
        // Offline: cached document state, then the query on top.
        var cached: [RWKVState] = []
        for r in m.golden.rerankOffline {
            var states = [m.model.zeroState(layers: layers)]
            _ = try m.model.forward([r.docIds], states: &states)
            let (_, queried) = try m.model.forward([r.queryIds], from: states)
            let logit = try m.reranker.logits(queried)[0]
            let d = abs(Double(logit) - r.logit)
            DiffLog.note("\(name) rerank_offline", d)
            #expect(d <= tolerance, "offline \(d)")
            if r.query == m.golden.rerankOfflineBatch.query { cached.append(states[0]) }
        }
        // Offline, batched: one query against all cached document states at once.
        let batch = m.golden.rerankOfflineBatch
        let queryIds = try #require(m.golden.rerankOffline.first { $0.query == batch.query }?.queryIds)
        #expect(cached.count == batch.logits.count)
        let (_, queried) = try m.model.forward(Array(repeating: queryIds, count: cached.count), from: cached)
        let logits = try m.reranker.logits(queried)
        for (l, expected) in zip(logits, batch.logits) {
            let d = abs(Double(l) - expected)
            DiffLog.note("\(name) rerank_offline_batch", d)
            #expect(d <= tolerance)
        }
    }
}
