import Foundation
import Testing
import RWKVCheckpoint
import RWKVTestSupport

/// Loads the fixture `.pth` files and checks them against golden.json and against an independent
/// decoding of raw storage bytes (found by scanning the zip's local headers, not by the loader's code).
@Suite struct PthLoadingTests {
    /// The last storage of each fixture file (`data/<n>`): the reranker's head.2.weight, the embedding's retr_head.norm.bias.
    static let lastStorage: [String: (embedding: Int, reranker: Int)] = ["tiny-bf16": (145, 70), "small-fp16": (211, 202)]

    @Test(arguments: Fixtures.modelNames)
    func embeddingLoadsWithTheGoldenArchitecture(model: String) throws {
        let golden = try Fixtures.golden(model)
        let loaded = try EmbeddingModelWeights.loadWithReport(contentsOf: Fixtures.embeddingCheckpoint(model))
        let weights = loaded.weights
        let architecture = weights.architecture
        #expect(architecture.layerCount == golden.nLayer)
        #expect(architecture.embeddingSize == golden.nEmbd)
        #expect(architecture.headSize == golden.headSize)
        #expect(architecture.headCount == golden.nEmbd / golden.headSize)
        #expect(architecture.vocabularySize == 65536)
        #expect(architecture.feedForwardSize == 4 * golden.nEmbd)
        #expect(weights.blocks.count == golden.nLayer)
        #expect(weights.blocks[0].ln0 != nil && weights.blocks[0].timeMix.v0 == nil && weights.blocks[0].timeMix.v1 == nil)
        for block in weights.blocks.dropFirst() {
            #expect(block.ln0 == nil && block.timeMix.v0?.count == golden.nEmbd)
            #expect(block.timeMix.v1?.shape == [golden.nEmbd, architecture.valueResidualRank])
        }
        #expect(weights.embedding.shape == [65536, golden.nEmbd])
        #expect(weights.blocks[0].timeMix.rK.count == golden.nEmbd)
        #expect(loaded.report.format == .pytorch)
        #expect(loaded.report.dtypes == [model == "tiny-bf16" ? "bfloat16" : "float16"])
        #expect(loaded.report.unusedKeys.isEmpty)

        let file = try Data(contentsOf: Fixtures.embeddingCheckpoint(model))
        let dtype = model == "tiny-bf16" ? RawDType.bf16 : .f16
        let firstRows = try rawValues(file, entry: "embedding/data/0", dtype: dtype, count: 3 * golden.nEmbd)
        #expect(Array(weights.embedding.values.prefix(3 * golden.nEmbd)) == firstRows)
        let lastRow = try rawValues(file, entry: "embedding/data/0", dtype: dtype, count: 65536 * golden.nEmbd).suffix(golden.nEmbd)
        #expect(Array(weights.embedding.values.suffix(golden.nEmbd)) == Array(lastRow))
        let normBias = try rawValues(file, entry: "embedding/data/\(Self.lastStorage[model]!.embedding)", dtype: dtype, count: golden.nEmbd)
        #expect(weights.retrievalHead.norm.bias == normBias)
    }

    @Test(arguments: Fixtures.modelNames)
    func rerankerLoadsWithItsLayerIndices(model: String) throws {
        let golden = try Fixtures.golden(model)
        let embedding = ModelArchitecture(
            layerCount: golden.nLayer, embeddingSize: golden.nEmbd, headCount: golden.nEmbd / golden.headSize, headSize: golden.headSize,
            vocabularySize: 65536, decayRank: 32, inContextRateRank: 32, valueResidualRank: 32, gateRank: 32, feedForwardSize: 4 * golden.nEmbd)
        let loaded = try RerankerWeights.loadWithReport(contentsOf: Fixtures.rerankerCheckpoint(model), pairedWith: embedding)
        let weights = loaded.weights
        let expectedIndices = golden.rerankerLayerIdx ?? Array(0..<golden.nLayer)
        #expect(weights.layerIndices == expectedIndices)
        #expect(weights.architecture.layerCount == expectedIndices.count)
        #expect(weights.architecture.embeddingSize == golden.nEmbd)
        #expect(weights.architecture.vocabularySize == 1)
        #expect(weights.blocks.count == expectedIndices.count)
        #expect(weights.blocks[0].ln0 != nil && weights.blocks[0].timeMix.v0 == nil)
        #expect(weights.hiddenWeight.shape == [golden.nEmbd, golden.nEmbd])
        #expect(weights.scoreWeight.shape == [1, golden.nEmbd])
        #expect(loaded.report.unusedKeys.isEmpty)

        let file = try Data(contentsOf: Fixtures.rerankerCheckpoint(model))
        let dtype = model == "tiny-bf16" ? RawDType.bf16 : .f16
        #expect(weights.token == (try rawValues(file, entry: "reranker/data/0", dtype: dtype, count: golden.nEmbd)))
        #expect(weights.scoreWeight.values == (try rawValues(file, entry: "reranker/data/\(Self.lastStorage[model]!.reranker)", dtype: dtype, count: golden.nEmbd)))
    }

    @Test func rerankerFromAnotherModelIsRejectedWhenPaired() throws {
        let tiny = try EmbeddingModelWeights.load(contentsOf: Fixtures.embeddingCheckpoint("tiny-bf16")).architecture
        #expect(throws: CheckpointError.self) {
            try RerankerWeights.load(contentsOf: Fixtures.rerankerCheckpoint("small-fp16"), pairedWith: tiny)
        }
        var shallow = tiny
        shallow.layerCount = 3  // the tiny reranker reads layer 3
        do {
            _ = try RerankerWeights.load(contentsOf: Fixtures.rerankerCheckpoint("tiny-bf16"), pairedWith: shallow)
            Issue.record("expected an error")
        } catch let error as CheckpointError {
            guard case .incompatibleReranker = error else { Issue.record("unexpected \(error)"); return }
            #expect(error.description.contains("layer 3"))
        }
    }

    @Test func checkpointsOfTheOtherKindAreRejectedWithAHint() {
        do {
            _ = try EmbeddingModelWeights.load(contentsOf: Fixtures.rerankerCheckpoint("tiny-bf16"))
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("reranker checkpoint"))
        }
    }
}

enum RawDType { case bf16, f16 }

/// Finds a stored zip entry by its local header (signature, then the name at byte 30) and decodes it by hand.
func rawValues(_ file: Data, entry name: String, dtype: RawDType, count: Int) throws -> [Float] {
    let signature = Data([0x50, 0x4b, 0x03, 0x04])
    var searchStart = file.startIndex
    while let hit = file.range(of: signature, in: searchStart..<file.endIndex) {
        let header = hit.lowerBound
        let nameLength = Int(file[header + 26]) | Int(file[header + 27]) << 8
        let extraLength = Int(file[header + 28]) | Int(file[header + 29]) << 8
        if String(decoding: file[(header + 30)..<(header + 30 + nameLength)], as: UTF8.self) == name {
            let start = header + 30 + nameLength + extraLength
            return (0..<count).map { index in
                let bits = UInt16(file[start + 2 * index]) | UInt16(file[start + 2 * index + 1]) << 8
                switch dtype {
                case .bf16: return Float(bitPattern: UInt32(bits) << 16)
                case .f16:
                    // Independent of the loader: Foundation-free formula sign * 2^(e-15) * (1 + m/1024).
                    let sign: Float = bits & 0x8000 != 0 ? -1 : 1
                    let exponent = Int((bits >> 10) & 0x1F), mantissa = Float(bits & 0x3FF)
                    if exponent == 0 { return sign * mantissa * Float(pow(2.0, -24.0)) }
                    return sign * (1 + mantissa / 1024) * Float(pow(2.0, Double(exponent - 15)))
                }
            }
        }
        searchStart = hit.upperBound
    }
    throw CheckpointError.missingEntry(name: name)
}
