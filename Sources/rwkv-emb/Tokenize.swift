import ArgumentParser
import Foundation
import RWKVTokenizer
import RWKVSupport

/// `rwkv-emb tokenize [text]`: token ids of a text.
struct Tokenize: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the token ids of a text (RWKV world vocabulary).",
        discussion: """
            Without a text argument, standard input is tokenized byte for byte, including any \
            trailing newline (use `printf` rather than `echo` to avoid one).
            """
    )

    @Argument(help: "The text to tokenize (default: standard input).")
    var text: String?

    @Flag(help: "Append the end-of-sequence token 65535, as embedding inputs do.")
    var eos = false

    @Flag(help: """
        Print a JSON array of pieces: {"id", "text"}, or {"id", "hex"} for pieces that are not \
        valid UTF-8 on their own; EOS is {"id": 65535, "special": "eos"}.
        """)
    var json = false

    @OptionGroup var options: TokenizerOptions

    func run() async throws {
        let tokenizer = try options.makeTokenizer()
        let ids: [Int]
        if let text {
            ids = tokenizer.encode(text, addEOS: eos)
        } else {
            if isatty(STDIN_FILENO) != 0 {
                FileHandle.standardError.write(Data("reading text from standard input (end with Ctrl-D)\n".utf8))
            }
            ids = tokenizer.encode(bytes: FileHandle.standardInput.readDataToEndOfFile(), addEOS: eos)
        }
        if json {
            writeToStandardOutput(Self.json(try tokenizer.pieces(ids)))
        } else {
            writeToStandardOutput(ids.map(String.init).joined(separator: " ") + "\n")
        }
    }

    /// One piece per line, keys in a fixed order.
    static func json(_ pieces: [TokenPiece]) -> String {
        guard !pieces.isEmpty else { return "[]\n" }
        var output = "[\n"
        for (index, piece) in pieces.enumerated() {
            output += "  {\"id\": \(piece.id), "
            if piece.isEOS {
                output += "\"special\": \"eos\"}"
            } else if let text = piece.text {
                output += "\"text\": \(jsonStringLiteral(text))}"
            } else {
                output += "\"hex\": \"\(piece.bytes.map(hexByte).joined())\"}"
            }
            output += index == pieces.count - 1 ? "\n" : ",\n"
        }
        return output + "]\n"
    }
}
