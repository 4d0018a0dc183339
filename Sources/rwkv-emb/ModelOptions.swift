import ArgumentParser
import EmbeddingRWKV
import Foundation
import RWKVCheckpoint
import RWKVTokenizer

/// `--model`: an embedding checkpoint file, a directory or a name (`ModelLocator`), loaded into the engine.
struct ModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp(ModelLocator.modelHelp, valueName: "model"))
    var model: String?

    @Option(help: PrecisionChoice.help)
    var precision: WeightPrecision = .auto

    /// `--precision` on this machine (with a note on standard error when it falls back).
    var resolvedPrecision: WeightPrecision { PrecisionChoice.resolve(precision) }

    func loadModel() async throws -> RWKVModel {
        try loadModel(from: await ModelLocator.embedding(model: model))
    }

    func loadModel(from url: URL) throws -> RWKVModel {
        let weights = try EmbeddingModelWeights.load(contentsOf: url)
        return RWKVModel(consume weights, precision: resolvedPrecision)
    }
}

/// The URL of a file that exists, or a clear error.
func existingFile(_ path: String) throws -> URL {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
        throw CommandLineError("no such file: \(path)")
    }
    return URL(fileURLWithPath: path)
}

/// Texts from the arguments, or else JSONL `{"text": ...}` lines from standard input.
func readTexts(_ arguments: [String]) throws -> [String] {
    if !arguments.isEmpty { return arguments }
    struct Line: Decodable { let text: String }
    var texts: [String] = []
    var number = 0
    while let line = readLine(strippingNewline: true) {
        number += 1
        if line.allSatisfy(\.isWhitespace) { continue }
        do {
            texts.append(try JSONDecoder().decode(Line.self, from: Data(line.utf8)).text)
        } catch {
            throw CommandLineError("stdin line \(number): expected a JSON object with a \"text\" string")
        }
    }
    guard !texts.isEmpty else { throw CommandLineError("no input: pass texts as arguments or JSONL {\"text\": ...} lines on stdin") }
    return texts
}

/// Prints a value as JSON on standard output.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    var data = try encoder.encode(value)
    data.append(UInt8(ascii: "\n"))
    FileHandle.standardOutput.write(data)
}
