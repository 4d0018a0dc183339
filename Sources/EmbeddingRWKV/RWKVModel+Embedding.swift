import RWKVKernels
import RWKVSupport

extension RWKVModel {
    /// Embeddings of token sequences (each should contain EOS tokens): the mean of the ln_out outputs at
    /// all EOS positions, through the task head, optionally L2-normalised. Sequences start from zero states,
    /// or from `prefix`'s state where they start with its ids (which must hold no EOS: no pooled output is
    /// skipped; a prefix with one is not used).
    public func embed(
        _ sequences: [[Int]], task: EmbeddingTask = .retrieval, normalize: Bool = false,
        prefix: PrefixState? = nil, workspace: Workspace? = nil
    ) throws(RWKVError) -> [[Float]] {
        let outputs: [SequenceOutput]
        if let prefix, !prefix.ids.contains(Self.eos), prefix.state.layerCount == layerCount {
            let zero = zeroState()
            let parts = sequences.map { prefix.split($0, zero: zero) }
            outputs = try forward(parts.map(\.remainder), from: parts.map(\.source), outputs: .token(Self.eos),
                                  workspace: workspace).outputs
        } else {
            var states = sequences.map { _ in zeroState() }
            outputs = try forward(sequences, states: &states, outputs: .token(Self.eos), workspace: workspace)
        }
        var pooled: [[Float]] = []
        for (i, out) in outputs.enumerated() {
            guard let mean = out.mean() else { throw .noEOS(sequence: i) }
            pooled.append(mean)
        }
        return embed(pooled: pooled, task: task, normalize: normalize)
    }

    /// Applies a task head (and optional L2 normalisation) to pooled ln_out vectors.
    public func embed(pooled: [[Float]], task: EmbeddingTask = .retrieval, normalize: Bool = false) -> [[Float]] {
        guard !pooled.isEmpty, let head = heads[task] else { return [] }
        let c = width
        let flat = head.apply(pooled.flatMap { $0 }, rows: pooled.count, width: c)
        return (0..<pooled.count).map { i in
            let v = Array(flat[i * c..<(i + 1) * c])
            return normalize ? l2Normalized(v) : v
        }
    }
}
