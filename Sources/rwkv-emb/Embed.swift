import ArgumentParser
import EmbeddingRWKV
import Foundation
import RWKVTokenizer

/// `rwkv-emb embed`: texts -> embedding vectors as JSON.
struct Embed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Embed texts (arguments, or JSONL {\"text\": ...} lines on stdin) and print JSON vectors.")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Task head: retr (retrieval, default), sts (similarity) or cls (classification).")
    var task: String = "retr"

    @Option(name: .customLong("protocol"), help: "Input protocol: single (text + EOS) or paper (4 EOS, chunked).")
    var inputProtocol: String = "single"

    @Flag(help: "L2-normalise the vectors.")
    var normalize = false

    @Flag(help: "Treat the texts as queries: wrap them in the instruction template.")
    var query = false

    @Option(help: "The query instruction (implies --query).")
    var instruction: String?

    @Argument(help: "Texts to embed (default: JSONL on stdin).")
    var texts: [String] = []

    func validate() throws {
        guard EmbeddingTask(rawValue: task) != nil else { throw ValidationError("--task must be retr, sts or cls") }
        guard InputProtocol(rawValue: inputProtocol) != nil else { throw ValidationError("--protocol must be single or paper") }
    }

    struct Output: Encodable {
        let task: String
        let dimensions: Int
        let embeddings: [[Float]]
    }

    func run() async throws {
        let inputs = try readTexts(texts)
        let model = try await modelOptions.loadModel()
        let embedder = Embedder(model: model, tokenizer: try WorldTokenizer(), task: EmbeddingTask(rawValue: task)!,
                                inputProtocol: InputProtocol(rawValue: inputProtocol)!, normalize: normalize)
        let vectors: [[Float]]
        if query || instruction != nil {
            vectors = try embedder.embedQueries(inputs, instruction: instruction ?? Embedder.defaultInstruction)
        } else {
            vectors = try embedder.embed(inputs)
        }
        try printJSON(Output(task: task, dimensions: model.width, embeddings: vectors))
    }
}
