import Foundation

/// The package's root folder (found from this source file).
public let packageRoot = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent()

/// The built `rwkv-emb` next to the test bundle (`swift build --build-tests` builds it), else in
/// `.build/debug` (and `.build/release` for a release test build).
public func cliExecutable() -> URL? {
    var candidates = [Bundle.main.bundleURL.appendingPathComponent("rwkv-emb"),
                      Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("rwkv-emb")]
    for bundle in Bundle.allBundles { candidates.append(bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("rwkv-emb")) }
    candidates.append(packageRoot.appendingPathComponent(".build/debug/rwkv-emb"))
    #if !DEBUG
    candidates.append(packageRoot.appendingPathComponent(".build/release/rwkv-emb"))
    #endif
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
}

public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

public struct CLIMissing: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "rwkv-emb not found next to the tests; run `swift build --build-tests` first" }
}

/// Runs the CLI to completion (`environment` is added to this process's, or `replacingEnvironment` is the
/// whole environment; `stdin` is written then closed). The waiting happens on a Dispatch thread, not on
/// the Swift concurrency pool (as many threads as cores), so that tests running alongside keep theirs.
public func runCLI(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
                   replacingEnvironment: [String: String]? = nil, currentDirectory: URL? = nil) async throws -> ProcessResult {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result {
                try runCLIBlocking(arguments, stdin: stdin, environment: environment,
                                   replacingEnvironment: replacingEnvironment, currentDirectory: currentDirectory)
            })
        }
    }
}

private func runCLIBlocking(_ arguments: [String], stdin: String?, environment: [String: String],
                            replacingEnvironment: [String: String]?, currentDirectory: URL?) throws -> ProcessResult {
    guard let exe = cliExecutable() else { throw CLIMissing() }
    let p = Process()
    p.executableURL = exe
    p.arguments = arguments
    if let replacingEnvironment {
        p.environment = replacingEnvironment.merging(environment) { $1 }
    } else if !environment.isEmpty {
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    if let currentDirectory { p.currentDirectoryURL = currentDirectory }
    let out = Pipe(), err = Pipe(), input = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = input
    try p.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return ProcessResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// Runs `rwkv-emb` with `arguments` (an `index ... --log-documents` run), SIGKILLs it once `added` lines
/// reach `killAfterAdded` plus a random delay of up to `maxDelay` microseconds (or lets it exit first), and
/// returns whether the kill landed and every line it printed: the crash tests' one way to kill an indexer.
public func runKilled(_ executable: URL, _ arguments: [String], killAfterAdded: Int, maxDelay: UInt32,
                      generator: inout some RandomNumberGenerator) throws -> (killed: Bool, lines: [Substring]) {
    let p = Process()
    p.executableURL = executable
    p.arguments = arguments
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    var buffer = Data()
    let handle = out.fileHandleForReading
    while String(decoding: buffer, as: UTF8.self).split(separator: "\n").filter({ $0.hasPrefix("added ") }).count < killAfterAdded {
        let chunk = handle.availableData
        if chunk.isEmpty { break }  // exited
        buffer += chunk
    }
    usleep(UInt32.random(in: 0...maxDelay, using: &generator))
    kill(p.processIdentifier, SIGKILL)
    p.waitUntilExit()
    buffer += handle.readDataToEndOfFile()
    return (p.terminationReason == .uncaughtSignal, String(decoding: buffer, as: UTF8.self).split(separator: "\n"))
}
