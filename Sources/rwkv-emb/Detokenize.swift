import ArgumentParser
import Foundation
import RWKVTokenizer

/// `rwkv-emb detokenize [ids...]`: the text of token ids.
struct Detokenize: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the text of token ids (RWKV world vocabulary).",
        discussion: """
            Ids may be separated by spaces, commas or newlines, and may be wrapped in [ ], so \
            the output of `tokenize` or a JSON array of ids can be pasted. EOS (65535) prints \
            nothing; id 0 prints <|endoftext|>.
            """
    )

    @Argument(help: "Token ids (default: read them from standard input).")
    var ids: [String] = []

    @Flag(help: "Fail on bytes that are not valid UTF-8 instead of replacing them with U+FFFD.")
    var strict = false

    @Flag(name: [.customShort("n"), .customLong("no-newline")], help: "Do not print a newline after the text.")
    var noNewline = false

    @OptionGroup var options: TokenizerOptions

    func run() async throws {
        let source: String
        if ids.isEmpty {
            source = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            source = ids.joined(separator: " ")
        }
        let tokenIDs = try Self.parseIDs(source)
        let tokenizer = try options.makeTokenizer()
        let text: String
        do {
            text = try tokenizer.decode(tokenIDs, invalidUTF8: strict ? .strict : .replace)
        } catch TokenizerError.invalidUTF8(let offset) {
            throw CommandLineError("the decoded bytes are not valid UTF-8 (first bad byte at offset \(offset)); "
                + "without --strict they are replaced with U+FFFD")
        }
        writeToStandardOutput(noNewline ? text : text + "\n")
    }

    static func parseIDs(_ source: String) throws -> [Int] {
        let separators: Set<Character> = [" ", "\t", "\n", "\r", "\r\n", ",", "[", "]"]
        return try source.split(whereSeparator: { separators.contains($0) }).map { field in
            guard let id = Int(field) else {
                throw CommandLineError("'\(field)' is not a token id (expected a non-negative integer)")
            }
            return id
        }
    }
}
