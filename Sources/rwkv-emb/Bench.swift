import ArgumentParser

/// `rwkv-emb bench ...`: benchmarks that print their figures (and ratios to a peer or limit
/// measured in the same run). Each benchmark is a subcommand in its own file.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks: print throughput, latency and memory figures.",
        subcommands: [BenchEngine.self, BenchTokenizer.self, BenchLoad.self, BenchRerankCache.self, BenchSearch.self,
                      BenchIndex.self, BenchStates.self, BenchCompact.self, BenchANN.self],
        defaultSubcommand: BenchEngine.self
    )
}
