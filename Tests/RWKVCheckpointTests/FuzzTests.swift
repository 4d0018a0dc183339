import Foundation
import Testing
@testable import RWKVCheckpoint
import RWKVTestSupport

/// Mutates the small fixture checkpoints (and their safetensors conversions) thousands of times:
/// every case must either load or throw a CheckpointError (never trap, hang or throw anything else).
@Suite struct FuzzTests {
    /// Bounded in cases and in time, so a slow debug build still finishes quickly.
    static let maximumCases = 4000
    static let timeBudget: TimeInterval = 15

    struct Target {
        var name: String
        var data: Data
        /// Byte ranges where structure lives (zip directory, pickle, safetensors header): mutated most.
        var structure: [Range<Int>]
    }

    static func targets() throws -> [Target] {
        var targets: [Target] = []
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        for model in ["tiny-bf16", "small-fp16"] {
            let pth = try Data(contentsOf: Fixtures.rerankerCheckpoint(model))
            let regions: [Range<Int>] = try pth.withUnsafeBytes { bytes in
                let archive = try ZipArchive(bytes)
                let pickle = archive.entries.first { $0.key.hasSuffix("data.pkl") }!.value
                let lastData = archive.entries.values.map(\.upperBound).max()!
                return [pickle, lastData..<bytes.count, 0..<min(256, bytes.count)]
            }
            targets.append(Target(name: "\(model)/reranker.pth", data: pth, structure: regions))
            let converted = directory.path("\(model).safetensors")
            try CheckpointConversion.convert(Fixtures.rerankerCheckpoint(model), to: converted)
            let safetensors = try Data(contentsOf: converted)
            let headerEnd = 8 + Int(safetensors.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
            targets.append(Target(name: "\(model)/reranker.safetensors", data: safetensors, structure: [0..<headerEnd]))
        }
        return targets
    }

    @Test func mutatedCheckpointsLoadOrThrowTypedErrors() throws {
        let targets = try Self.targets()
        var random = SeededGenerator(seed: 0x5EED_2026)
        let start = Date()
        var cases = 0, loaded = 0
        var kinds: [String: Int] = [:]
        while cases < Self.maximumCases && Date().timeIntervalSince(start) < Self.timeBudget {
            // The 6 MB small-fp16 files are used one case in eight.
            var index = Int(random.next() % 4)
            if index >= 2 && random.next() % 4 != 0 { index -= 2 }
            let target = targets[index]
            var data = target.data
            mutate(&data, structure: target.structure, random: &random)
            cases += 1
            do {
                if random.next() % 8 == 0 {
                    _ = try EmbeddingModelWeights.load(from: data)
                } else {
                    _ = try RerankerWeights.load(from: data)
                }
                loaded += 1
            } catch let error as CheckpointError {
                let kind = String(describing: error).prefix(24)
                kinds[String(kind), default: 0] += 1
            } catch {
                Issue.record("\(target.name), case \(cases): untyped error \(error)")
            }
        }
        #expect(cases >= 100, "only \(cases) cases ran")
        #expect(kinds.count >= 5, "mutations reached too few error kinds: \(kinds)")
        print("fuzz: \(cases) cases in \(String(format: "%.1f", Date().timeIntervalSince(start))) s, \(loaded) loaded, \(kinds.count) error kinds")
    }

    /// Random programs over the whitelisted opcodes (with random operands) run straight on the
    /// pickle machine: it must return or throw a CheckpointError for every one.
    @Test func randomPickleProgramsNeverTrap() {
        let opcodes: [UInt8] = [0x80, 0x2e, 0x7d, 0x5d, 0x29, 0x28, 0x4e, 0x88, 0x89, 0x4b, 0x4d, 0x4a, 0x8a, 0x47, 0x58, 0x8c,
                                0x74, 0x85, 0x86, 0x87, 0x61, 0x65, 0x73, 0x75, 0x71, 0x72, 0x68, 0x6a, 0x63, 0x51, 0x52, 0x62]
        let words = ["torch\nBFloat16Storage\n", "torch._utils\n_rebuild_tensor_v2\n", "collections\nOrderedDict\n", "storage", "x"]
        var random = SeededGenerator(seed: 42)
        var completed = 0
        for _ in 0..<20_000 {
            var program: [UInt8] = [0x80, 0x02]
            for _ in 0..<(1 + random.next() % 40) {
                let choice = random.next() % 10
                if choice < 6 {
                    program.append(opcodes[Int(random.next() % UInt64(opcodes.count))])
                } else if choice < 9 {
                    program.append(UInt8(truncatingIfNeeded: random.next()))
                } else {
                    program += Array(words[Int(random.next() % UInt64(words.count))].utf8)
                }
            }
            if random.next() % 2 == 0 { program.append(0x2e) }
            do {
                _ = try program.withUnsafeBytes { try PickleMachine.run($0) }
                completed += 1
            } catch is CheckpointError {
            } catch {
                Issue.record("untyped error \(error)")
            }
        }
        #expect(completed > 0)
    }

    func mutate(_ data: inout Data, structure: [Range<Int>], random: inout SeededGenerator) {
        func position(in range: Range<Int>) -> Int { range.lowerBound + Int(random.next() % UInt64(max(range.count, 1))) }
        func structuralPosition() -> Int {
            let region = structure[Int(random.next() % UInt64(structure.count))]
            return region.isEmpty ? 0 : position(in: region)
        }
        let count = data.count
        switch random.next() % 6 {
        case 0:  // a few random bit flips anywhere
            for _ in 0..<(1 + random.next() % 4) {
                let at = position(in: 0..<count)
                data[at] ^= UInt8(1 << (random.next() % 8))
            }
        case 1, 2:  // bytes overwritten in the structure
            for _ in 0..<(1 + random.next() % 8) {
                data[structuralPosition()] = UInt8(truncatingIfNeeded: random.next())
            }
        case 3:  // a run of 0xFF or 0x00 (huge or zero sizes) in the structure
            let at = structuralPosition()
            let fill: UInt8 = random.next() % 2 == 0 ? 0xFF : 0x00
            for offset in 0..<Int(1 + random.next() % 8) where at + offset < count { data[at + offset] = fill }
        case 4:  // truncation at a random point
            data = data.prefix(position(in: 0..<count))
        default:  // a structural byte range duplicated over another place in the structure
            let from = structuralPosition(), to = structuralPosition()
            let length = min(Int(1 + random.next() % 16), count - max(from, to))
            if length > 0 { data.replaceSubrange(to..<to + length, with: data[from..<from + length]) }
        }
    }
}
