import Foundation
import Testing
@testable import RWKVCheckpoint
import RWKVTestSupport

/// Each kind of bad input ends as the matching typed error with a readable message.
@Suite struct BadInputTests {
    static let rerankerPth = try! Data(contentsOf: Fixtures.rerankerCheckpoint("tiny-bf16"))

    func error(loading data: Data) -> CheckpointError? {
        do {
            _ = try RerankerWeights.load(from: data)
            return nil
        } catch let error as CheckpointError {
            #expect(!error.description.isEmpty && error.errorDescription == error.description)
            return error
        } catch {
            Issue.record("untyped error \(error)")
            return nil
        }
    }

    /// The fixture's entries, re-zipped with data.pkl replaced.
    func withPickle(_ pickle: [UInt8]) throws -> Data {
        let entries = try zipEntries(Self.rerankerPth).map { $0.name.hasSuffix("data.pkl") ? ($0.name, pickle) : $0 }
        return makeZip(entries)
    }

    @Test func zip64ArchivesLoadLikeClassicOnes() throws {
        let entries = try zipEntries(Self.rerankerPth)
        let original = try RerankerWeights.load(from: Self.rerankerPth).weights
        let repacked = try RerankerWeights.load(from: makeZip(entries, zip64: true)).weights
        #expect(sameTensors(original.namedTensors, repacked.namedTensors) && original.layerIndices == repacked.layerIndices)
    }

    @Test func truncatedFilesAndWrongMagic() {
        for length in [0, 3, 10, 1000, Self.rerankerPth.count / 2, Self.rerankerPth.count - 1] {
            let error = error(loading: Self.rerankerPth.prefix(length))
            #expect(error != nil, "length \(length)")
        }
        guard case .unknownFormat = error(loading: Data("hello, this is not a checkpoint".utf8)) else { Issue.record("magic"); return }
    }

    @Test func compressedEntriesAreRefused() throws {
        let entries = try zipEntries(Self.rerankerPth)
        guard case let .compressedEntry(name, method) = error(loading: makeZip(entries, method: 8)) else { Issue.record("no error"); return }
        #expect(method == 8 && name.hasSuffix("data.pkl"))
    }

    @Test func corruptCentralDirectory() throws {
        var data = Self.rerankerPth
        // Point the end record's directory offset past the end of the file.
        let end = data.count - 22
        data[end + 16] = 0xFF; data[end + 17] = 0xFF; data[end + 18] = 0xFF; data[end + 19] = 0x7F
        #expect(error(loading: data) != nil)
        var signature = Self.rerankerPth
        let directoryOffset = Int(signature[end + 16]) | Int(signature[end + 17]) << 8 | Int(signature[end + 18]) << 16 | Int(signature[end + 19]) << 24
        signature[directoryOffset] = 0
        guard case .corruptZip = error(loading: signature) else { Issue.record("signature"); return }
    }

    @Test func pickleOpcodesAndGlobalsOutsideTheWhitelist() throws {
        // GLOBAL os.system: never resolved, whatever follows.
        let global: [UInt8] = [0x80, 0x02] + Array("cos\nsystem\n".utf8) + [0x2e]
        guard case let .unsupportedPickleGlobal(module, name) = error(loading: try withPickle(global)) else { Issue.record("global"); return }
        #expect(module == "os" && name == "system")
        // INST (i) builds arbitrary objects: never needed by a state dict.
        let instance: [UInt8] = [0x80, 0x02, 0x7d, 0x28, 0x69] + Array("os\nsystem\n".utf8) + [0x2e]
        guard case let .unsupportedPickleOpcode(opcode, offset) = error(loading: try withPickle(instance)) else { Issue.record("opcode"); return }
        #expect(opcode == 0x69 && offset == 4)
        // BUILD on anything but a dict's attribute dict is refused too.
        let build: [UInt8] = [0x80, 0x02, 0x7d, 0x4b, 0x01, 0x62, 0x2e]
        guard case .unsupportedPickleOpcode(0x62, 5) = error(loading: try withPickle(build)) else { Issue.record("build"); return }
        #expect(error(loading: try withPickle([0x80, 0x02, 0x7d])) == .truncated(what: "data.pkl (no STOP opcode)"))
        // Non-tensor values (a negative float, a negative LONG1, None) are skipped with a note, not trapped on.
        let scalars: [UInt8] = [0x80, 0x02, 0x7d, 0x28] + [0x8c, 1, 0x61, 0x47, 0xC0, 0x09, 0x21, 0xFB, 0x54, 0x44, 0x2D, 0x18]
            + [0x8c, 1, 0x62, 0x8a, 8, 0, 0, 0, 0, 0, 0, 0, 0x80] + [0x8c, 1, 0x63, 0x4e, 0x75, 0x2e]
        let contents = try CheckpointContents.parse(try withPickle(scalars))
        #expect(contents.tensors.isEmpty && contents.notes.count == 3)
        #expect(error(loading: try withPickle([0x80, 0x02, 0x68, 0x05, 0x2e])) != nil)  // memo read before write
    }

    @Test func ordereddictAttributeStateIsAcceptedAndDeepNestingIsHarmless() throws {
        // model.state_dict() pickles `_metadata` with BUILD after the items: accepted and dropped.
        var pickle = try zipEntries(Self.rerankerPth).first { $0.name.hasSuffix("data.pkl") }!.bytes
        #expect(pickle.last == 0x2e)
        pickle.insert(contentsOf: [0x7d, 0x62], at: pickle.count - 1)
        #expect(try RerankerWeights.load(from: try withPickle(pickle)).weights.layerIndices == [1, 3])
        // 300 000 nested tuples and lists: values are flat (arena indices), so nothing recurses.
        var deep: [UInt8] = [0x80, 0x02, 0x4b, 0x00] + [UInt8](repeating: 0x85, count: 300_000)
        for _ in 0..<100_000 { deep += [0x5d, 0x28] } // EMPTY_LIST MARK, never closed
        deep.append(0x2e)
        #expect(error(loading: try withPickle(deep)) != nil)
    }

    @Test func broadcastViewsAndOverusedStoragesCannotDemandUnboundedMemory() throws {
        let storage = [UInt8](repeating: 0x3F, count: 2000)  // 1000 bf16 values
        // A view from scratch that is fine: storage offset and strides honoured (element i holds the value i).
        var counting: [UInt8] = []
        for index in 0..<256 { withUnsafeBytes(of: UInt16(Float(index).bitPattern >> 16).littleEndian) { counting += $0 } }
        let fine = try CheckpointFile(data: makePth(tensors: [("t", "0", [10, 2], [20, 3], 7)], storages: ["0": counting]))
        #expect(fine.tensors.map(\.elementCount) == [20])
        let bytes = try fine.rawBytes(of: "t")
        var values: [Float] = [], expected: [Float] = []
        for index in 0..<20 {
            let bits = UInt32(bytes[2 * index]) | UInt32(bytes[2 * index + 1]) << 8
            values.append(Float(bitPattern: bits << 16))
            let (row, column) = (index / 2, index % 2)
            expected.append(Float(7 + 20 * row + 3 * column))
        }
        #expect(values == expected)
        let broadcast = makePth(tensors: [("t", "0", [100_000, 100_000], [0, 0], 0)], storages: ["0": storage])
        guard case .tensorOutOfBounds("t", _) = error(loading: broadcast) else { Issue.record("broadcast"); return }
        let reused = makePth(tensors: (0..<100).map { ("t\($0)", "0", [1000], [1], 0) }, storages: ["0": storage])
        guard case .tensorOutOfBounds = error(loading: reused) else { Issue.record("reuse"); return }
    }

    @Test func tensorsOutsideTheirStorage() throws {
        // Grow the first tensor's size from (1, 128) to (1, 255): past its 256-byte storage.
        var pickle = try zipEntries(Self.rerankerPth).first { $0.name.hasSuffix("data.pkl") }!.bytes
        // BININT1 128, BININT1 1, TUPLE2 (the stride tuple follows the size tuple): find `K 1 K 128 0x86` of the size.
        let size: [UInt8] = [0x4b, 0x01, 0x4b, 0x80, 0x86]
        let at = (0..<(pickle.count - size.count)).first { Array(pickle[$0..<$0 + size.count]) == size }!
        pickle[at + 3] = 0xFF
        guard case let .tensorOutOfBounds(tensor, _) = error(loading: try withPickle(pickle)) else { Issue.record("bounds"); return }
        #expect(tensor == "reranker.emb.weight")
    }

    @Test func stridedViewsAreCopiedInRowMajorOrder() throws {
        // Turn the first [128, 128] tensor (blocks.0.att.receptance.weight) into a transposed view: strides (1, 128).
        var pickle = try zipEntries(Self.rerankerPth).first { $0.name.hasSuffix("data.pkl") }!.bytes
        func find(_ pattern: [UInt8], from start: Int) -> Int? {
            (start..<(pickle.count - pattern.count)).first { Array(pickle[$0..<$0 + pattern.count]) == pattern }
        }
        let size = try #require(find([0x4b, 0x80, 0x4b, 0x80, 0x86], from: 0))
        let stride = try #require(find([0x4b, 0x80, 0x4b, 0x01, 0x86], from: size + 5))
        #expect(stride - size <= 8)
        pickle[stride + 1] = 0x01
        pickle[stride + 3] = 0x80
        let original = try RerankerWeights.load(from: Self.rerankerPth).weights.blocks[0].timeMix.receptance.values
        let transposed = try RerankerWeights.load(from: try withPickle(pickle)).weights.blocks[0].timeMix.receptance.values
        for row in 0..<128 {
            for column in 0..<128 { #expect(transposed[row * 128 + column] == original[column * 128 + row]) }
        }
    }

    /// Writes the named tensors of a random reranker, after `edit`, as safetensors bytes.
    func safetensors(_ edit: (inout [NamedTensor]) -> Void, metadata: [String: String] = [:]) throws -> Data {
        var tensors = RerankerWeights.random(architecture: .standard(layerCount: 2, embeddingSize: 64), seed: 1).namedTensors
        edit(&tensors)
        var writer = SafetensorsWriter(metadata: metadata)
        for tensor in tensors { try writer.add(tensor.name, shape: tensor.shape, values: tensor.values, as: .float32) }
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        try writer.write(to: directory.path("x.safetensors"))
        return try Data(contentsOf: directory.path("x.safetensors"))
    }

    @Test func missingTensorsWrongShapesAndNonFiniteValuesNameTheTensor() throws {
        #expect(error(loading: try safetensors { _ in }) == nil)
        let missing = try safetensors { $0.removeAll { $0.name == "reranker.blocks.1.att.v2" } }
        #expect(error(loading: missing) == .missingTensor(key: "reranker.blocks.1.att.v2", hint: ""))
        let reshaped = try safetensors { tensors in
            let index = tensors.firstIndex { $0.name == "reranker.blocks.1.ffn.key.weight" }!
            tensors[index].shape = [64, 256]
        }
        #expect(error(loading: reshaped) == .wrongShape(key: "reranker.blocks.1.ffn.key.weight", expected: [256, 64], found: [64, 256]))
        let poisoned = try safetensors { tensors in
            let index = tensors.firstIndex { $0.name == "reranker.blocks.0.att.g2" }!
            tensors[index].values[77] = .nan
        }
        #expect(error(loading: poisoned) == .nonFiniteValue(tensor: "reranker.blocks.0.att.g2", index: 77))
        let infinite = try safetensors { tensors in tensors[0].values[3] = -.infinity }
        #expect(error(loading: infinite) == .nonFiniteValue(tensor: "reranker.emb.weight", index: 3))
    }

    @Test func layerIndicesMustMatchTheBlocksAndThePairedModel() throws {
        let wrongCount = try safetensors({ _ in }, metadata: ["reranker_layer_idx": "[1]"])
        guard case .invalidLayerIndices = error(loading: wrongCount) else { Issue.record("count"); return }
        let notAList = try safetensors({ _ in }, metadata: ["reranker_layer_idx": "one"])
        guard case .invalidLayerIndices = error(loading: notAList) else { Issue.record("text"); return }
        let good = try safetensors({ _ in }, metadata: ["reranker_layer_idx": "[2, 5]"])
        #expect(try RerankerWeights.load(from: good).weights.layerIndices == [2, 5])
        let narrow = ModelArchitecture.standard(layerCount: 6, embeddingSize: 128)
        guard case .incompatibleReranker = try #require(throws: CheckpointError.self, performing: {
            try RerankerWeights.load(from: good, pairedWith: narrow)
        }) else { Issue.record("width"); return }
        let shallow = ModelArchitecture.standard(layerCount: 5, embeddingSize: 64)
        #expect(throws: CheckpointError.incompatibleReranker("the reranker reads layer 5, the embedding model has 5 layers")) {
            try RerankerWeights.load(from: good, pairedWith: shallow)
        }
    }

    @Test func strictSafetensorsHeaders() throws {
        func file(_ header: String, dataBytes: Int) -> Data {
            var data = Data()
            var length = UInt64(header.utf8.count).littleEndian
            data.append(Data(bytes: &length, count: 8))
            data.append(Data(header.utf8))
            data.append(Data(count: dataBytes))
            return data
        }
        let outOfBounds = file(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, dataBytes: 8)
        guard case .tensorOutOfBounds = error(loading: outOfBounds) else { Issue.record("bounds"); return }
        let sizeMismatch = file(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#, dataBytes: 16)
        guard case .corruptSafetensorsHeader = error(loading: sizeMismatch) else { Issue.record("size"); return }
        let overlap = file(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, dataBytes: 16)
        guard case .corruptSafetensorsHeader = error(loading: overlap) else { Issue.record("overlap"); return }
        let dtype = file(#"{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}"#, dataBytes: 16)
        guard case .unsupportedDType = error(loading: dtype) else { Issue.record("dtype"); return }
        let negative = file(#"{"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}"#, dataBytes: 16)
        guard case .corruptSafetensorsHeader = error(loading: negative) else { Issue.record("negative"); return }
        let huge = file(#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#, dataBytes: 16)
        #expect(error(loading: huge) != nil)
        let badJSON = file(#"{"a":{"dtype":"F32","#, dataBytes: 16)
        guard case .corruptSafetensorsHeader = error(loading: badJSON) else { Issue.record("json"); return }
    }
}
