/// The task heads of an EmbeddingRWKV checkpoint: LayerNorm(fc2(relu(fc1 x)) + x) over the pooled EOS outputs.
public enum EmbeddingTask: String, Sendable, CaseIterable {
    /// `[RETR]`: retrieval (the default).
    case retrieval = "retr"
    /// `[STS]`: semantic textual similarity.
    case similarity = "sts"
    /// `[CLS]`: classification.
    case classification = "cls"

    /// The reference implementation's name for the head.
    public var referenceName: String {
        switch self {
        case .retrieval: "[RETR]"
        case .similarity: "[STS]"
        case .classification: "[CLS]"
        }
    }
}
