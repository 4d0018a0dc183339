/// How a text's tokens are turned into the model input whose EOS outputs are pooled.
public enum InputProtocol: String, Sendable, CaseIterable {
    /// The text followed by one EOS.
    case single
    /// The paper's protocol (context 2048, chunk 512, 4 EOS): texts under 512 tokens are repeated four
    /// times, each copy followed by EOS; texts of 512...2044 tokens are cut into four chunks of
    /// ceil(n / 4) tokens, each followed by EOS; longer texts are cut into ceil(n / 2048) equal pieces,
    /// each treated as the four-chunk case. Texts are truncated to 16384 tokens first.
    case paper

    public static let paperMaxTokens = 16384
    static let paperChunk = 512
    static let paperContext = 2048
    static let paperFourChunkLimit = 2044

    /// The model input for a text's tokens (without EOS).
    public func input(for tokens: [Int], eos: Int = RWKVModel.eos) -> [Int] {
        switch self {
        case .single:
            return tokens + [eos]
        case .paper:
            let t = Array(tokens.prefix(Self.paperMaxTokens))
            if t.count < Self.paperChunk {
                return Array(repeating: t + [eos], count: 4).flatMap { $0 }
            }
            if t.count <= Self.paperFourChunkLimit { return Self.fourChunks(t[...], eos: eos) }
            let pieces = (t.count + Self.paperContext - 1) / Self.paperContext
            let size = (t.count + pieces - 1) / pieces
            return stride(from: 0, to: t.count, by: size).flatMap { start in
                Self.fourChunks(t[start..<min(start + size, t.count)], eos: eos)
            }
        }
    }

    /// Four chunks of ceil(n / 4) tokens (the last may be shorter), each followed by EOS.
    static func fourChunks(_ t: ArraySlice<Int>, eos: Int) -> [Int] {
        let size = (t.count + 3) / 4
        var out: [Int] = []
        out.reserveCapacity(t.count + 4)
        var start = t.startIndex
        while start < t.endIndex {
            let end = min(start + size, t.endIndex)
            out += t[start..<end]
            out.append(eos)
            start = end
        }
        return out
    }
}
