/// A metadata filter that cannot be used: every message names the operator or the path at fault.
public enum FilterError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The filter text is not JSON.
    case invalidJSON(String)
    /// A filter (or the operand of `$and`/`$or`/`$not`) must be a JSON object.
    case notAnObject(context: String)
    /// An operator this language does not have.
    case unknownOperator(String, path: String?)
    /// An operator's operand has the wrong type.
    case invalidOperand(operator: String, path: String?, expected: String)
    /// `$and`/`$or` with no conditions.
    case emptyCondition(operator: String)
    /// A dotted path that is empty, has an empty key or a dangling escape.
    case invalidPath(String, reason: String)
    /// Nesting deeper than the limit.
    case tooDeep(limit: Int)
    /// Metadata given to be stored is not a JSON object.
    case invalidMetadata(String)

    public var description: String {
        switch self {
        case let .invalidJSON(reason): "filter is not valid JSON: \(reason)"
        case let .notAnObject(context): "\(context) must be a JSON object like {\"key\": value}"
        case let .unknownOperator(op, path):
            "unknown filter operator \(op)\(path.map { " on \($0)" } ?? ""); known: $eq $ne $gt $gte $lt $lte $in $nin $contains $exists $and $or $not"
        case let .invalidOperand(op, path, expected): "\(op)\(path.map { " on \($0)" } ?? "") needs \(expected)"
        case let .emptyCondition(op): "\(op) needs at least one condition"
        case let .invalidPath(path, reason): "invalid key path \"\(path)\": \(reason)"
        case let .tooDeep(limit): "filter is nested deeper than \(limit) levels"
        case let .invalidMetadata(reason): "metadata must be a JSON object: \(reason)"
        }
    }
}
