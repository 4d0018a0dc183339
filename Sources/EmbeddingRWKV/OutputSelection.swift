/// Which positions of each sequence the forward pass returns (as ln_out outputs).
public enum OutputSelection: Sendable, Equatable {
    /// State only.
    case none
    /// The last position of each sequence (that has tokens in this call).
    case last
    /// Every position.
    case all
    /// Positions whose token id is the given one (e.g. EOS for pooled embeddings).
    case token(Int)

    @inline(__always)
    func selects(position: Int, count: Int, token: Int) -> Bool {
        switch self {
        case .none: false
        case .last: position == count - 1
        case .all: true
        case let .token(id): token == id
        }
    }
}

/// The outputs of one sequence: `positions.count` rows of width C (row-major in `values`).
public struct SequenceOutput: Sendable, Equatable {
    /// Positions (0-based, within the tokens given in this call) of the rows.
    public var positions: [Int]
    public var values: [Float]
    public let width: Int

    public init(width: Int, positions: [Int] = [], values: [Float] = []) {
        self.width = width
        self.positions = positions
        self.values = values
    }

    public var rowCount: Int { positions.count }

    public func row(_ index: Int) -> ArraySlice<Float> {
        values[index * width..<(index + 1) * width]
    }

    /// Mean of all rows (the multi-EOS pooling when the selection was `.token(eos)`); nil without rows.
    public func mean() -> [Float]? {
        guard !positions.isEmpty else { return nil }
        var sum = [Float](repeating: 0, count: width)
        for r in 0..<rowCount {
            for c in 0..<width { sum[c] += values[r * width + c] }
        }
        let n = Float(rowCount)
        return sum.map { $0 / n }
    }
}
