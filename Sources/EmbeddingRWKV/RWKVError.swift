/// Errors of the engine: bad inputs caught before any computation.
public enum RWKVError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A token id outside 0..<vocabularySize.
    case tokenOutOfRange(id: Int, vocabularySize: Int)
    /// A state built for another model shape (or a number of states that does not match the inputs).
    case stateMismatch(String)
    /// Outputs (ln_out rows) were asked from a state that does not reach the last layer.
    case outputsNeedFullDepth(stateLayers: Int, modelLayers: Int)
    /// An embedding was asked for a sequence without any EOS token (nothing to pool).
    case noEOS(sequence: Int)
    /// The reranker's layer indices or width do not fit the embedding model.
    case incompatibleReranker(String)

    public var description: String {
        switch self {
        case let .tokenOutOfRange(id, v): "token id \(id) is outside the vocabulary 0..<\(v)"
        case let .stateMismatch(s): "state mismatch: \(s)"
        case let .outputsNeedFullDepth(s, m): "outputs need all \(m) layers, the state has \(s)"
        case let .noEOS(i): "sequence \(i) has no EOS token to pool"
        case let .incompatibleReranker(s): "incompatible reranker: \(s)"
        }
    }
}
