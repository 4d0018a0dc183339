import Foundation
import RWKVHub
import RWKVRetrieval

/// The libraries' errors say what is wrong; on the command line some gain the command or flag that
/// fixes them (the libraries never name CLI flags).
struct CommandLineHint: Error, CustomStringConvertible, LocalizedError {
    let error: any Error
    let hint: String

    var description: String { "\(error)\(hint)" }
    var errorDescription: String? { description }

    /// `error` with its hint, or `error` itself when there is none.
    static func adding(to error: any Error) -> any Error {
        guard let hint = hint(for: error) else { return error }
        return CommandLineHint(error: error, hint: hint)
    }

    static func hint(for error: any Error) -> String? {
        switch error {
        case let RetrievalError.notACollection(path): "; create one with `rwkv-emb index --collection \(path) ...`"
        case let RetrievalError.legacyFormat(path, _): ": convert it with `rwkv-emb migrate --collection \(path)`"
        case RetrievalError.notText: " (exclude it with --exclude)"
        case HubError.noPairedReranker: " Give one with --reranker."
        case HubError.notCached: " With this tool: `rwkv-emb download`."
        default: nil
        }
    }
}
