import ArgumentParser

@main
struct RWKVEmb: AsyncParsableCommand {
    /// ArgumentParser's own `main`, with the command-line hints added to library errors.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: CommandLineHint.adding(to: error))
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "rwkv-emb",
        abstract: "EmbeddingRWKV: embeddings, reusable document states and state-based reranking.",
        version: "0.1.0",
        subcommands: [
            // Each subcommand lives in its own file of this folder.
            Bench.self,
            Embed.self,
            Rerank.self,
            Tokenize.self,
            Detokenize.self,
            Convert.self,
            Inspect.self,
            Download.self,
            Models.self,
            Index.self,
            Search.self,
            ListDocuments.self,
            Delete.self,
            Stats.self,
            Compact.self,
            Migrate.self,
            Merge.self,
            Worker.self,
            Verify.self,
            Serve.self,
            LoadTest.self,
            Eval.self,
        ]
    )
}
