import Testing
import EmbeddingRWKV
import RWKVTestSupport

/// Batching never changes a text's result; states round-trip, slice and carry.
@Suite struct BatchAndStateTests {
    @Test func randomRaggedBatchesEqualSingleTexts() throws {
        let m = try TestModels.load("tiny-bf16")
        var rng = SystemRandomNumberGenerator()
        let records = m.golden.embed
        var singles: [Int: [Float]] = [:]  // each text alone
        defer { DiffLog.report("batch") }
        for trial in 0..<2 {
            let picked = (0..<5).map { _ in Int.random(in: 0..<records.count, using: &rng) }
            // A tiny step size forces sequences to be split across steps and mixed with others.
            let ws = Workspace(maxRows: trial == 0 ? 7 : 64)
            let batch = try m.model.embed(picked.map { records[$0].ids }, workspace: ws)
            for (e, i) in zip(batch, picked) {
                if singles[i] == nil { singles[i] = try m.model.embed([records[i].ids])[0] }
                let d = maxAbsDiff(e, singles[i]!)
                DiffLog.note("batch invariance", Double(d))
                #expect(d <= 1e-5, "record \(i) in batch \(picked), step \(ws.maxRows): \(d)")
            }
        }
    }

    @Test func statesSliceAndCarry() throws {
        let m = try TestModels.load("tiny-bf16")
        let ids = m.golden.embed[1].ids
        var state = m.model.zeroState()
        _ = try m.model.forward(ids, state: &state)

        // Slicing keeps layers verbatim, and running only the first layers gives the same prefix.
        let sliced = state.sliced(layers: 0..<2)
        #expect(sliced.layerCount == 2)
        for l in 0..<2 {
            #expect(sliced.shift(layer: l) == state.shift(layer: l))
            #expect(sliced.wkv(layer: l) == state.wkv(layer: l))
        }
        var shallow = m.model.zeroState(layers: 2)
        _ = try m.model.forward(ids, state: &shallow)
        #expect(maxAbsDiff(shallow.rawValues, sliced.rawValues) <= 1e-6)
        #expect(throws: RWKVError.self) { _ = try m.model.forward(ids, state: &shallow, outputs: .last) }

        // Copies are independent values; running from a source leaves it untouched.
        let copy = state
        let (_, advanced) = try m.model.forward([[1, 2, 3]], from: [state])
        #expect(copy == state)
        var inPlace = state
        _ = try m.model.forward([1, 2, 3], state: &inPlace)
        #expect(inPlace == advanced[0])
        #expect(inPlace != state)
    }

    @Test func offlineRerankingIsIndependentOfStepSize() throws {
        let m = try TestModels.load("tiny-bf16")
        let batch = m.golden.rerankOfflineBatch
        let pairs = m.golden.rerankOffline.filter { $0.query == batch.query }
        var states = pairs.map { _ in m.model.zeroState(layers: m.reranker.requiredLayers) }
        _ = try m.model.forward(pairs.map(\.docIds), states: &states, workspace: Workspace(maxRows: 5))
        // Queries split over several steps, reading the cached states and writing new ones.
        let (_, queried) = try m.model.forward(pairs.map(\.queryIds), from: states, workspace: Workspace(maxRows: 3))
        let logits = try m.reranker.logits(queried, workspace: Workspace(maxRows: 2))
        for (l, expected) in zip(logits, batch.logits) {
            #expect(abs(Double(l) - expected) <= tolerance)
        }
    }

    @Test func badInputsThrow() throws {
        let m = try TestModels.load("tiny-bf16")
        var state = m.model.zeroState()
        #expect(throws: RWKVError.tokenOutOfRange(id: 70000, vocabularySize: 65536)) {
            _ = try m.model.forward([1, 70000], state: &state)
        }
        #expect(throws: RWKVError.noEOS(sequence: 0)) { _ = try m.model.embed([[1, 2, 3]]) }
        var states = [m.model.zeroState()]
        #expect(throws: RWKVError.self) { _ = try m.model.forward([[1], [2]], states: &states) }
        #expect(throws: RWKVError.self) { _ = try m.reranker.logits([m.model.zeroState(layers: 1)]) }
    }
}

@Suite struct InputProtocolTests {
    let eos = 65535

    @Test func singleAppendsOneEOS() {
        #expect(InputProtocol.single.input(for: [5, 6]) == [5, 6, eos])
    }

    @Test func paperRepeatsShortTexts() {
        #expect(InputProtocol.paper.input(for: [5, 6]) == [5, 6, eos, 5, 6, eos, 5, 6, eos, 5, 6, eos])
    }

    @Test func paperChunksMediumTexts() {
        let t = Array(1...600)
        let input = InputProtocol.paper.input(for: t)
        #expect(input.count == 604)
        #expect(input.indices.filter { input[$0] == eos } == [150, 301, 452, 603])
        #expect(input.filter { $0 != eos } == t)
    }

    @Test func paperSplitsLongTextsIntoPieces() {
        let t = Array(1...5000)  // ceil(5000 / 2048) = 3 pieces of <= 1667 tokens, 4 chunks each
        let input = InputProtocol.paper.input(for: t)
        #expect(input.filter { $0 == eos }.count == 12)
        #expect(input.filter { $0 != eos } == t)
        let long = InputProtocol.paper.input(for: Array(repeating: 7, count: 20000))
        #expect(long.filter { $0 != eos }.count == 16384)
        #expect(long.filter { $0 == eos }.count == 32)
    }

    @Test func queryTemplate() {
        #expect(Embedder.query("what?") == "Instruct: Given a query, retrieve documents that answer the query\nQuery: what?")
    }
}
