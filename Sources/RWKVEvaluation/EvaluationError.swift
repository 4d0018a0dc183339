/// Errors of loading an evaluation data set or a run: each names the file and, where it applies, the line.
public enum EvaluationError: Error, Equatable, Sendable, CustomStringConvertible {
    case missingFile(String)
    case badLine(file: String, line: Int, reason: String)
    case empty(file: String, what: String)

    public var description: String {
        switch self {
        case let .missingFile(f): "no such file: \(f)"
        case let .badLine(f, n, r): "\(f):\(n): \(r)"
        case let .empty(f, w): "\(f): no \(w)"
        }
    }
}
