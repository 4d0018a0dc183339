import ArgumentParser
import Foundation
import RWKVTokenizer

/// Options shared by the tokenizer commands.
struct TokenizerOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A vocabulary file in the rwkv_vocab_v20230424.txt format (default: the bundled one).",
                               valueName: "file"))
    var vocabulary: String?

    func makeTokenizer() throws -> WorldTokenizer {
        guard let vocabulary else { return try WorldTokenizer() }
        return try WorldTokenizer(vocabularyURL: URL(fileURLWithPath: vocabulary))
    }
}

/// A command-line input problem, printed as `Error: <message>` with a non-zero exit status.
struct CommandLineError: Error, CustomStringConvertible, LocalizedError {
    let description: String
    init(_ description: String) { self.description = description }
    var errorDescription: String? { description }
}

/// Writes bytes to standard output unchanged.
func writeToStandardOutput(_ bytes: [UInt8]) {
    FileHandle.standardOutput.write(Data(bytes))
}

func writeToStandardOutput(_ text: String) {
    writeToStandardOutput(Array(text.utf8))
}
