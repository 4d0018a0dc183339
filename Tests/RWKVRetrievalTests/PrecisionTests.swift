import Foundation
import GRDB
import Testing
import EmbeddingRWKV
import RWKVRetrieval
import RWKVTestSupport

/// Stored-state precisions: element error bounds of the codecs, and the reranker logit error against fp32
/// states within the bounds stated in ARCHITECTURE.md.
@Suite struct PrecisionTests {
    /// Max |logit(decoded state) - logit(fp32 state)| allowed per precision on the fixture models.
    static let logitBound: [StatePrecision: Float] = [.fp32: 0, .fp16: 5e-4, .bf16: 5e-3, .int8: 1e-2, .int4: 1e-1]

    @Test func codecRoundTripBounds() throws {
        let c = 128, layers = 2
        var state = RWKVState(layerCount: layers, embeddingSize: c)
        var seed: UInt64 = 42
        state.withUnsafeMutableValues { v in
            for i in 0..<v.count {
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                let u = Float(seed >> 40) / Float(1 << 24)  // [0, 1)
                v[i] = (u * 2 - 1) * (i % 7 == 0 ? 300 : 3)
            }
            v[5] = 0; v[6] = 1e-6; v[7] = -70000  // zero, fp16 subnormal, beyond fp16 range (saturates)
        }
        let original = state.rawValues
        // Every precision with its token shift, and int4 with the fp16 token shift of older int4 collections.
        let codecs = StatePrecision.allCases.map { StateCodec(precision: $0, layerCount: layers, embeddingSize: c) }
            + [StateCodec(precision: .int4, tokenShift: .fp16, layerCount: layers, embeddingSize: c)]
        for codec in codecs {
            let p = codec.precision
            let blob = codec.encode(state)
            #expect(blob.count == codec.blobBytes && blob.count % 64 == 0)
            let back = codec.decode(blob).rawValues
            #expect(back.count == original.count)
            let stride = state.layerStride
            for (i, (a, b)) in zip(original, back).enumerated() {
                let inShift = i % stride < 2 * c
                let err = abs(a - b)
                if inShift && codec.tokenShift == .int8 {
                    let row = (i % stride) / 64, rowStart = (i / stride) * stride + row * 64
                    let scale = original[rowStart..<rowStart + 64].map(abs).max()! / 127  // stored as fp16
                    #expect(err <= scale * 0.501, "\(p) shift \(i): \(a) -> \(b)")
                    continue
                }
                switch (p, inShift) {
                case (.fp32, _): #expect(err == 0)
                case (_, true), (.fp16, false):
                    if abs(a) <= 65504 { #expect(err <= max(abs(a) * 0x1p-11, 0x1p-25), "\(p) \(i): \(a) -> \(b)") }
                    else { #expect(b == (a < 0 ? -65504 : 65504)) }
                case (.bf16, false): #expect(err <= abs(a) * 0x1p-8, "\(p) \(i)")
                case (.int8, false):
                    let row = (i % stride - 2 * c) / 64, rowStart = (i / stride) * stride + 2 * c + row * 64
                    let scale = original[rowStart..<rowStart + 64].map(abs).max()! / 127
                    #expect(err <= scale * 0.5001, "\(p) \(i)")
                case (.int4, false):
                    let row = (i % stride - 2 * c) / 64, rowStart = (i / stride) * stride + 2 * c + row * 64
                    let scale = original[rowStart..<rowStart + 64].map(abs).max()! / 7  // stored as fp16: within 2^-11
                    #expect(err <= scale * 0.501, "\(p) \(i): \(a) -> \(b)")
                }
            }
        }
        // Sizes: int8 is about half of fp16.
        let f16 = StateCodec(precision: .fp16, layerCount: 12, embeddingSize: 768).payloadBytes
        let i8 = StateCodec(precision: .int8, layerCount: 12, embeddingSize: 768).payloadBytes
        #expect(f16 == 12 * (2 * 768 * 2 + 12 * 64 * 64 * 2))
        #expect(Double(i8) / Double(f16) < 0.55)
        // int4: 34 bytes per WKV row and an int8 token shift (24 fp16 scales + 1,536 values per layer):
        // 332,352 bytes per 12-layer state, under issue 11's 0.35 MB; 350,208 with the older fp16 shift.
        let i4 = StateCodec(precision: .int4, layerCount: 12, embeddingSize: 768)
        #expect(i4.payloadBytes == 12 * (24 * 2 + 2 * 768 + 768 * 34) && i4.payloadBytes == 332_352 && i4.blobBytes == 332_352)
        #expect(StateCodec(precision: .int4, tokenShift: .fp16, layerCount: 12, embeddingSize: 768).payloadBytes == 350_208)
    }

    @Test(arguments: Fixtures.modelNames)
    func rerankErrorWithinStatedBounds(name: String) throws {
        let models = try Models.load(name)
        let docs = Array(sampleTexts.prefix(6))
        let states = try models.reranker.documentStates(for: docs)
        let query = models.reranker.queryTokens(sampleQueries[0])
        let reference = try models.reranker.rerankOffline(queryTokens: query, documentStates: states).map(\.logit)
        for p in StatePrecision.allCases {
            let codec = StateCodec(precision: p, layerCount: models.stateLayers, embeddingSize: models.model.width)
            let decoded = states.map { codec.decode(codec.encode($0)) }
            let logits = try models.reranker.rerankOffline(queryTokens: query, documentStates: decoded).map(\.logit)
            let err = maxAbsDiff(logits, reference)
            #expect(err <= Self.logitBound[p]!, "\(name) \(p): max |logit diff| \(err)")
        }
    }

    /// int4 collections made before the int8 token shift record `shiftPrecision` "fp16": they keep that
    /// layout (350,208 bytes per Tiny state) and rerank as before; new ones store the int8 shift.
    @Test func int4CollectionWithTheOlderFP16TokenShift() throws {
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        let url = dir.path("c")
        do {
            let made = try DocumentCollection.create(at: url, models: models, configuration: .init(statePrecision: .int4))
            #expect(made.manifest.shiftPrecision == "int8")
        }
        let queue = try DatabaseQueue(path: url.appendingPathComponent("collection.sqlite").path)
        try queue.write { try $0.execute(sql: "UPDATE manifest SET value = '\"fp16\"' WHERE key = 'shiftPrecision'") }
        try queue.close()
        do {
            let c = try DocumentCollection.open(at: url, models: models, writable: true)
            try c.add(sampleDocuments(4))
            let older = StateCodec(precision: .int4, tokenShift: .fp16, layerCount: models.stateLayers, embeddingSize: 128)
            #expect(c.stats().stateBytesPerPassage == older.blobBytes && c.stats().shiftPrecision == "fp16")
            #expect(older.blobBytes > StateCodec(precision: .int4, layerCount: models.stateLayers, embeddingSize: 128).blobBytes)
            let r = try c.search(sampleQueries[0], options: .init(topK: 4, candidates: 4))
            let online = try models.reranker.rerankOnline(query: sampleQueries[0], documents: r.hits.map(\.text))
            #expect(maxAbsDiff(r.hits.map { $0.rerank!.logit }, online.map(\.logit)) <= Self.logitBound[.int4]!)
        }
        // A token-shift precision this build does not know is refused by name.
        let q2 = try DatabaseQueue(path: url.appendingPathComponent("collection.sqlite").path)
        try q2.write { try $0.execute(sql: "UPDATE manifest SET value = '\"int2\"' WHERE key = 'shiftPrecision'") }
        try q2.close()
        #expect { try DocumentCollection.open(at: url, models: models) } throws: { "\($0)".contains("shiftPrecision \"int2\"") }
    }

    /// An int8 collection stores and searches end to end.
    @Test func int8CollectionSearches() throws {
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        let c = try DocumentCollection.create(at: dir.path("c"), models: models, configuration: .init(statePrecision: .int8))
        try c.add(sampleDocuments(4))
        #expect(c.stats().stateBytesPerPassage == StateCodec(precision: .int8, layerCount: models.stateLayers, embeddingSize: 128).blobBytes)
        let r = try c.search(sampleQueries[0], options: .init(topK: 4, candidates: 4))
        let online = try models.reranker.rerankOnline(query: sampleQueries[0], documents: r.hits.map(\.text))
        #expect(maxAbsDiff(r.hits.map { $0.rerank!.logit }, online.map(\.logit)) <= Self.logitBound[.int8]!)
    }
}
