import EmbeddingRWKV
import Foundation
import Hummingbird
import RWKVRetrieval

/// What went wrong with a request, independent of the API family that renders it.
/// Status codes follow text-embeddings-inference >= 1.9 (validation 422, engine failures 424).
public enum APIErrorKind: String, Sendable {
    /// Malformed or out-of-range input (422).
    case validation = "Validation"
    /// An input longer than `--max-input-length` (422, as TEI >= 1.9 answers; 413 before 1.9).
    case inputTooLarge = "InputTooLarge"
    /// A batch larger than `--max-client-batch-size` or `--max-client-batch-tokens` (422).
    case batchTooLarge = "BatchTooLarge"
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
    /// A known API key that lacks the scope the route needs (403).
    case forbidden = "Forbidden"
    /// Unknown route or collection (404).
    case notFound = "NotFound"
    /// A collection that already exists (409).
    case conflict = "Conflict"
    /// The collection's file system is full: the write was not acknowledged, searches still work (507).
    case storageFull = "InsufficientStorage"
    /// Shutting down (503).
    case unavailable = "Unhealthy"
    /// The served model cannot do this (no reranker, not a classifier): 424 with error_type
    /// `Backend`, as TEI answers `/rerank` on an embedding model.
    case modelType = "ModelType"
    /// The engine failed — never for bad input: 424 on TEI routes (TEI's `Backend`), 500 on `/v1`.
    case backend = "Backend"

    /// TEI's `error_type`: one of Unhealthy, Backend, Overloaded, Validation, Tokenizer, Empty
    /// (our finer kinds are reported as the TEI kind a TEI client expects).
    var teiType: String {
        switch self {
        case .inputTooLarge, .batchTooLarge, .invalidJSON, .payloadTooLarge, .unauthorized, .forbidden, .notFound, .conflict:
            APIErrorKind.validation.rawValue
        case .storageFull: APIErrorKind.backend.rawValue
        case .modelType: APIErrorKind.backend.rawValue
        default: rawValue
        }
    }

    func status(for family: APIFamily) -> HTTPResponse.Status {
        if self == .backend && family != .tei { return .internalServerError }
        return status
    }

    /// The status on TEI routes.
    var status: HTTPResponse.Status {
        switch self {
        case .validation, .tokenizer, .inputTooLarge, .batchTooLarge: .unprocessableContent
        case .empty, .invalidJSON: .badRequest
        case .overloaded: .tooManyRequests
        case .payloadTooLarge: .contentTooLarge
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .unavailable: .serviceUnavailable
        case .storageFull: .init(code: 507, reasonPhrase: "Insufficient Storage")
        case .modelType, .backend: .init(code: 424, reasonPhrase: "Failed Dependency")
        }
    }

    /// OpenAI's `error.type`.
    var openAIType: String {
        switch self {
        case .validation, .inputTooLarge, .batchTooLarge, .tokenizer, .empty, .invalidJSON, .payloadTooLarge, .modelType:
            "invalid_request_error"
        case .overloaded: "rate_limit_error"
        case .unauthorized: "authentication_error"
        case .forbidden: "permission_error"
        case .notFound: "not_found_error"
        case .conflict: "conflict_error"
        case .unavailable, .backend, .storageFull: "server_error"
        }
    }

    /// OpenAI's `error.code` (a short machine-readable string).
    var openAICode: String {
        switch self {
        case .inputTooLarge: "context_length_exceeded"
        case .batchTooLarge: "batch_too_large"
        case .modelType: "model_not_supported"
        default: teiType.lowercased()
        }
    }

    /// Label of `te_request_failure{err=...}`: TEI's values (validation, batch_size, tokenization,
    /// model_type, overloaded, inference), and ours for the failures TEI does not count.
    var metricLabel: String {
        switch self {
        case .validation, .inputTooLarge, .empty, .invalidJSON: "validation"
        case .batchTooLarge: "batch_size"
        case .tokenizer: "tokenization"
        case .modelType: "model_type"
        case .overloaded: "overloaded"
        case .backend: "inference"
        case .payloadTooLarge: "payload_too_large"
        case .unauthorized: "unauthorized"
        case .forbidden: "forbidden"
        case .notFound: "not_found"
        case .conflict: "conflict"
        case .unavailable: "unhealthy"
        case .storageFull: "storage_full"
        }
    }
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
            case .forbidden: return .init(.forbidden, e.body ?? "forbidden")
            case .tooManyRequests: return .init(.overloaded, e.body ?? "too many requests")
            default:
                if (400..<500).contains(e.status.code) { return .init(.validation, e.body ?? e.status.reasonPhrase) }
                return .init(.backend, e.body ?? e.status.reasonPhrase)
            }
        case let e as RetrievalError:
            switch e {
            case .notACollection: return .init(.notFound, e.description)
            case .alreadyExists, .locked, .modelMismatch, .configurationMismatch: return .init(.conflict, e.description)
            case .invalidInput, .notText, .readOnly, .modelsRequired, .invalidPassageOptions: return .init(.validation, e.description)
            case .storageFull: return .init(.storageFull, e.description)
            case .io, .corrupt, .unsupportedVersion: return .init(.backend, e.description)
            case .legacyFormat: return .init(.conflict, e.description)
            case .database: return .init(.backend, e.description)
            }
        case let e as DecodingError: return .init(decodingKind(e), "invalid request body: \(describe(e))")
        case let e as RWKVError:
            switch e {
            case .tokenOutOfRange, .noEOS: return .init(.validation, e.description)
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
    /// Jina / Cohere rerank (`/v1/rerank`, `/v2/rerank`): OpenAI's body plus `detail` (read by
    /// Jina clients such as LangChain's `JinaRerank`) and `message` (Cohere's field).
    case rerank

    static func of(path: String) -> APIFamily {
        if path == "/v1/rerank" || path == "/v2/rerank" { return .rerank }
        if path.hasPrefix("/v1/") || path == "/v1" || path == "/embeddings" { return .openAI }
        return .tei
    }

    func body(for error: APIError) -> Data {
        let detail = OpenAIErrorBody.Detail(message: error.message, type: error.kind.openAIType,
                                            param: error.param, code: error.kind.openAICode)
        switch self {
        case .tei:
            return (try? JSONEncoder.api.encode(TEIErrorBody(error: error.message, error_type: error.kind.teiType))) ?? Data()
        case .openAI:
            return (try? JSONEncoder.api.encode(OpenAIErrorBody(error: detail))) ?? Data()
        case .rerank:
            return (try? JSONEncoder.api.encode(RerankErrorBody(error: detail, detail: error.message, message: error.message))) ?? Data()
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

struct RerankErrorBody: Encodable, Sendable {
    var error: OpenAIErrorBody.Detail
    var detail: String
    var message: String
}
