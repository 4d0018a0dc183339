import EmbeddingRWKV
import Foundation
import Hummingbird
import RWKVRetrieval

/// What went wrong with a request, independent of the API family that renders it.
public enum APIErrorKind: String, Sendable {
    /// Malformed or out-of-range input (422).
    case validation = "Validation"
    /// An input longer than `--max-input-length` or a batch larger than `--max-client-batch-size`:
    /// 413 on TEI routes (as TEI answers its validation errors), 422 on `/v1` routes.
    case inputTooLarge = "InputTooLarge"
    /// Input that does not fit the tokenizer or vocabulary (422).
    case tokenizer = "Tokenizer"
    /// An empty batch (400).
    case empty = "Empty"
    /// Body that is not JSON, not UTF-8, or not an object of the right shape (400).
    case invalidJSON = "InvalidJSON"
    /// Too many requests in flight (429).
    case overloaded = "Overloaded"
    /// Request body too large (413).
    case payloadTooLarge = "PayloadTooLarge"
    /// Missing or wrong API key (401).
    case unauthorized = "Unauthorized"
    /// Unknown route or collection (404).
    case notFound = "NotFound"
    /// A collection that already exists (409).
    case conflict = "Conflict"
    /// Shutting down (503).
    case unavailable = "Unhealthy"
    /// The engine failed (500) — never for bad input.
    case backend = "Backend"

    /// TEI's `error_type` (TEI reports over-long inputs as `Validation`).
    var teiType: String { self == .inputTooLarge ? APIErrorKind.validation.rawValue : rawValue }

    func status(for family: APIFamily) -> HTTPResponse.Status {
        if self == .inputTooLarge { return family == .tei ? .contentTooLarge : .unprocessableContent }
        return status
    }

    var status: HTTPResponse.Status {
        switch self {
        case .validation, .tokenizer, .inputTooLarge: .unprocessableContent
        case .empty, .invalidJSON: .badRequest
        case .overloaded: .tooManyRequests
        case .payloadTooLarge: .contentTooLarge
        case .unauthorized: .unauthorized
        case .notFound: .notFound
        case .conflict: .conflict
        case .unavailable: .serviceUnavailable
        case .backend: .internalServerError
        }
    }

    /// OpenAI's `error.type`.
    var openAIType: String {
        switch self {
        case .validation, .inputTooLarge, .tokenizer, .empty, .invalidJSON, .payloadTooLarge: "invalid_request_error"
        case .overloaded: "rate_limit_error"
        case .unauthorized: "authentication_error"
        case .notFound: "not_found_error"
        case .conflict: "conflict_error"
        case .unavailable, .backend: "server_error"
        }
    }

    /// Label of `te_request_failure{err=...}`.
    var metricLabel: String { teiType.lowercased() }
}

/// An error answered to the client with a status and a family-specific JSON body.
public struct APIError: Error, Sendable, CustomStringConvertible {
    public var kind: APIErrorKind
    public var message: String
    /// The offending request field (OpenAI's `error.param`).
    public var param: String?

    public init(_ kind: APIErrorKind, _ message: String, param: String? = nil) {
        self.kind = kind
        self.message = message
        self.param = param
    }

    public var description: String { "\(kind.rawValue): \(message)" }

    static func validation(_ message: String, param: String? = nil) -> APIError { .init(.validation, message, param: param) }

    /// Maps any error thrown while serving to an API error (engine errors on validated input are backend errors).
    static func from(_ error: any Error) -> APIError {
        switch error {
        case let e as APIError: return e
        case let e as HTTPError:
            switch e.status {
            case .contentTooLarge: return .init(.payloadTooLarge, e.body ?? "request body too large")
            case .notFound: return .init(.notFound, e.body ?? "no such route")
            case .methodNotAllowed: return .init(.notFound, e.body ?? "method not allowed")
            case .unauthorized: return .init(.unauthorized, e.body ?? "unauthorized")
            case .tooManyRequests: return .init(.overloaded, e.body ?? "too many requests")
            default:
                if (400..<500).contains(e.status.code) { return .init(.validation, e.body ?? e.status.reasonPhrase) }
                return .init(.backend, e.body ?? e.status.reasonPhrase)
            }
        case let e as RetrievalError:
            switch e {
            case .notACollection: return .init(.notFound, e.description)
            case .alreadyExists, .locked, .modelMismatch, .configurationMismatch: return .init(.conflict, e.description)
            case .invalidInput, .readOnly, .modelsRequired, .invalidPassageOptions: return .init(.validation, e.description)
            case .io, .corrupt, .unsupportedVersion: return .init(.backend, e.description)
            case .legacyFormat: return .init(.conflict, e.description)
            case .database: return .init(.backend, e.description)
            }
        case let e as DecodingError: return .init(decodingKind(e), "invalid request body: \(describe(e))")
        case let e as RWKVError:
            switch e {
            case .tokenOutOfRange, .noEOS, .emptyInput: return .init(.validation, e.description)
            default: return .init(.backend, e.description)
            }
        default: return .init(.backend, String(describing: error))
        }
    }

    private static func decodingKind(_ e: DecodingError) -> APIErrorKind {
        if case let .dataCorrupted(context) = e, context.codingPath.isEmpty { return .invalidJSON }
        return .validation
    }

    private static func describe(_ e: DecodingError) -> String {
        func path(_ c: DecodingError.Context) -> String {
            let p = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return p.isEmpty ? "" : " at `\(p)`"
        }
        switch e {
        case let .dataCorrupted(c):
            return c.codingPath.isEmpty ? "not valid JSON (or not UTF-8)" : c.debugDescription + path(c)
        case let .keyNotFound(key, c): return "missing field `\(key.stringValue)`" + path(c)
        case let .typeMismatch(_, c): return c.debugDescription + path(c)
        case let .valueNotFound(_, c): return c.debugDescription + path(c)
        @unknown default: return String(describing: e)
        }
    }
}

/// Which API family's error body a route answers with.
enum APIFamily: Sendable {
    /// TEI: `{"error": message, "error_type": kind}`.
    case tei
    /// OpenAI: `{"error": {"message", "type", "param", "code"}}`.
    case openAI

    static func of(path: String) -> APIFamily { path.hasPrefix("/v1/") || path == "/v1" ? .openAI : .tei }

    func body(for error: APIError) -> Data {
        switch self {
        case .tei:
            return (try? JSONEncoder.api.encode(TEIErrorBody(error: error.message, error_type: error.kind.teiType))) ?? Data()
        case .openAI:
            let body = OpenAIErrorBody(error: .init(message: error.message, type: error.kind.openAIType,
                                                    param: error.param, code: error.kind.teiType.lowercased()))
            return (try? JSONEncoder.api.encode(body)) ?? Data()
        }
    }
}

struct TEIErrorBody: Codable, Sendable {
    var error: String
    var error_type: String
}

struct OpenAIErrorBody: Codable, Sendable {
    struct Detail: Codable, Sendable {
        var message: String
        var type: String
        var param: String?
        var code: String?

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(message, forKey: .message)
            try c.encode(type, forKey: .type)
            try c.encode(param, forKey: .param)  // explicit null, as OpenAI sends
            try c.encode(code, forKey: .code)
        }
    }
    var error: Detail
}
