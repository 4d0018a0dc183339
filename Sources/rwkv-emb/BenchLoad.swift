import ArgumentParser
import Foundation
import RWKVCheckpoint

/// `rwkv-emb bench load`: writes a random model of a released shape with our safetensors writer,
/// then loads it in a fresh process (so the peak RSS is the load's alone) and reports the load
/// time and peak RSS next to the size of the fp32 model in memory.
struct BenchLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Checkpoint load time and peak memory for a released model shape (goals for Tiny: < 2 s, peak RSS <= 1.3x the fp32 model).")

    enum StoredDType: String, ExpressibleByArgument, CaseIterable {
        case bf16, f32
        var dtype: TensorDType { self == .bf16 ? .bfloat16 : .float32 }
    }

    @Option(help: "Model shape: tiny (12 x 768), base (24 x 1024) or large (24 x 2048).")
    var shape: ReleasedShape = .tiny

    @Option(help: "Storage dtype of the written checkpoint (the released ones are bf16).")
    var dtype: StoredDType = .bf16

    @Option(help: .hidden)
    var loadOnly: String?

    func run() async throws {
        if let path = loadOnly { return try measureLoad(path) }

        let architecture = shape.architecture
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("rwkv-emb-bench-load-\(getpid()).safetensors")
        defer { try? FileManager.default.removeItem(at: file) }
        let writeStart = Date()
        do {
            let weights = EmbeddingModelWeights.random(architecture: architecture, seed: 1)
            try CheckpointWriter.write(weights, to: file, dtype: dtype.dtype)
        }
        let fileSize = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
        print("shape: \(shape.rawValue), \(architecture)")
        print("wrote \(formatBytes(fileSize)) \(dtype.rawValue) safetensors in \(String(format: "%.2f", Date().timeIntervalSince(writeStart))) s (random weights, our writer)")

        // A fresh process for the load, so that its peak RSS is not the writer's.
        let child = Process()
        child.executableURL = try Self.executableURL()
        child.arguments = ["bench", "load", "--load-only", file.path]
        let pipe = Pipe()
        child.standardOutput = pipe
        try child.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        guard child.terminationStatus == 0, let line = output.split(separator: "\n").last(where: { $0.hasPrefix("LOAD ") }) else {
            throw ValidationError("the load process failed (status \(child.terminationStatus)): \(output)")
        }
        var fields: [String: Double] = [:]
        for pair in line.dropFirst(5).split(separator: " ") {
            let parts = pair.split(separator: "=")
            if parts.count == 2, let value = Double(parts[1]) { fields[String(parts[0])] = value }
        }
        let seconds = fields["seconds"] ?? .nan
        let peak = (fields["peak_kib"] ?? .nan) * 1024
        let baseline = (fields["baseline_kib"] ?? .nan) * 1024
        let model = (fields["parameters"] ?? .nan) * 4
        let mib = 1_048_576.0
        print(String(format: "load: %.3f s (goal < 2 s for tiny), %.1f M parameters", seconds, model / 4 / 1e6))
        print(String(format: "fp32 model in memory: %.1f MiB", model / mib))
        print("(the file was just written, so it is read from a warm page cache; a cold read adds disk time)")
        print(String(format: "peak RSS of the load process: %.1f MiB (%.1f MiB before loading) = %.2fx the model (goal <= 1.3x)",
                     peak / mib, baseline / mib, peak / model))
    }

    /// In the child: load once, print one machine-readable line.
    private func measureLoad(_ path: String) throws {
        let baseline = Self.statusKiB("VmRSS")
        let start = DispatchTime.now()
        let weights = try EmbeddingModelWeights.load(contentsOf: URL(fileURLWithPath: path))
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        let peak = Self.statusKiB("VmHWM")
        let parameters = weights.namedTensors.reduce(0) { $0 + $1.values.count }
        print("LOAD seconds=\(seconds) peak_kib=\(peak) baseline_kib=\(baseline) parameters=\(parameters)")
    }

    /// A `kB` field of /proc/self/status (0 where there is none, e.g. macOS).
    static func statusKiB(_ field: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        return 0
    }

    static func executableURL() throws -> URL {
        if let linked = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: linked)
        }
        if let url = Bundle.main.executableURL { return url }
        return URL(fileURLWithPath: CommandLine.arguments[0])
    }
}
