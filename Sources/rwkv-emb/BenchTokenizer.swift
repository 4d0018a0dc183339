import ArgumentParser
import Foundation
import RWKVTokenizer
import RWKVSupport

/// `rwkv-emb bench tokenizer`: vocabulary load time and single-threaded encode/decode throughput.
struct BenchTokenizer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Measure vocabulary load time and single-threaded tokenizer throughput.",
        discussion: """
            Without --file, a deterministic mix of English prose, Chinese/Japanese text and \
            source code is generated. Build with `-c release` for meaningful figures. \
            Benchmarks/tokenizer-vs-pyrwkv.sh compares against pyrwkv-tokenizer on the same text.
            """
    )

    @Option(help: ArgumentHelp("Benchmark on this file's bytes instead of generated text.", valueName: "path"))
    var file: String?

    @Option(help: "Megabytes (10^6 bytes) of text to generate.")
    var megabytes: Double = 4

    @Option(help: "Timed encode (and decode) passes; the best is reported.")
    var iterations: Int = 5

    @Option(help: ArgumentHelp("Write the benchmark text to this file.", valueName: "path"))
    var writeText: String?

    @Option(name: .customLong("write-ids"),
            help: ArgumentHelp("Write the token ids (space separated) to this file.", valueName: "path"))
    var writeIDs: String?

    @OptionGroup var options: TokenizerOptions

    func validate() throws {
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1") }
        guard megabytes > 0, megabytes <= 1024 else { throw ValidationError("--megabytes must be in (0, 1024]") }
    }

    func run() async throws {
        RetrievalBench.debugNote()
        let vocabularyURL: URL
        if let path = options.vocabulary {
            vocabularyURL = URL(fileURLWithPath: path)
        } else if let url = WorldTokenizer.bundledVocabularyURL {
            vocabularyURL = url
        } else {
            throw CommandLineError("the bundled vocabulary is missing; pass --vocabulary")
        }

        // Load time: best of several cold parses + trie builds (the file stays in the page cache).
        var parseTimes: [Double] = []
        var buildTimes: [Double] = []
        var tokenizer: WorldTokenizer?
        for _ in 0..<5 {
            let start = ContinuousClock.now
            let vocabulary = try Vocabulary(contentsOf: vocabularyURL)
            let parsed = ContinuousClock.now
            tokenizer = try WorldTokenizer(vocabulary: vocabulary)
            let built = ContinuousClock.now
            parseTimes.append((parsed - start).seconds)
            buildTimes.append((built - parsed).seconds)
        }
        guard let tokenizer else { return }
        let loadTimes = zip(parseTimes, buildTimes).map { $0 + $1 }

        let text: [UInt8]
        let origin: String
        if let file {
            do {
                text = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
            } catch {
                throw CommandLineError("cannot read '\(file)': \(error.localizedDescription)")
            }
            origin = file
        } else {
            text = BenchmarkText.generate(bytes: Int(megabytes * 1_000_000))
            origin = "generated (English, CJK, code)"
        }
        if let writeText {
            try write(Data(text), to: writeText)
        }

        var ids: [Int] = []
        var encodeTimes: [Double] = []
        for _ in 0..<iterations {
            let start = ContinuousClock.now
            ids = tokenizer.encode(bytes: text)
            encodeTimes.append((ContinuousClock.now - start).seconds)
        }
        var decodeTimes: [Double] = []
        for _ in 0..<iterations {
            let start = ContinuousClock.now
            let decoded = try tokenizer.decodeBytes(ids)
            decodeTimes.append((ContinuousClock.now - start).seconds)
            guard decoded.count == text.count else {
                throw CommandLineError("decoding did not reproduce the text")
            }
        }
        if let writeIDs {
            try write(Data((ids.map(String.init).joined(separator: " ") + "\n").utf8), to: writeIDs)
        }

        let megabytesOfText = Double(text.count) / 1e6
        let bestEncode = encodeTimes.min() ?? 0
        let bestDecode = decodeTimes.min() ?? 0
        print("text:            \(format(megabytesOfText, 2)) MB from \(origin), \(ids.count) tokens, "
            + "\(format(Double(text.count) / Double(max(ids.count, 1)), 2)) bytes/token")
        print("vocabulary load: \(format(loadTimes.min()! * 1e3, 1)) ms (best of 5: parse "
            + "\(format(parseTimes.min()! * 1e3, 1)) ms, trie \(format(buildTimes.min()! * 1e3, 1)) ms)")
        print("encode:          \(format(megabytesOfText / bestEncode, 1)) MB/s, "
            + "\(format(Double(ids.count) / bestEncode / 1e6, 2)) M tokens/s "
            + "(best of \(iterations), median \(format(megabytesOfText / median(encodeTimes), 1)) MB/s, single thread)")
        print("decode:          \(format(megabytesOfText / bestDecode, 1)) MB/s (to bytes, best of \(iterations))")
    }

    private func write(_ data: Data, to path: String) throws {
        do {
            try data.write(to: URL(fileURLWithPath: path))
        } catch {
            throw CommandLineError("cannot write '\(path)': \(error.localizedDescription)")
        }
    }
}



private func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

private func format(_ value: Double, _ decimals: Int) -> String {
    String(format: "%.\(decimals)f", value)
}
