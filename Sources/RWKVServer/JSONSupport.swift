import Foundation
import Hummingbird
import NIOCore

extension JSONEncoder {
    /// The encoder of every response body (floats that are not finite become strings instead of failing).
    static var api: JSONEncoder {
        let e = JSONEncoder()
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }
}

extension Request {
    /// Collects the body (up to `limit` bytes, else 413) and decodes it as JSON `T`.
    func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int) async throws -> T {
        try decodeJSONBody(T.self, from: try await collectJSONBody(limit: limit))
    }

    /// The body (up to `limit` bytes, else 413), checked to be non-empty UTF-8.
    func collectJSONBody(limit: Int) async throws -> Data {
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError(.payloadTooLarge, "request body exceeds the payload limit of \(limit) bytes")
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(.payloadTooLarge, "request body exceeds the payload limit of \(limit) bytes")
        }
        guard buffer.readableBytes > 0 else { throw APIError(.invalidJSON, "empty request body: a JSON object is expected") }
        let data = Data(buffer.readableBytesView)
        // Reject bodies that are not UTF-8 explicitly (JSONDecoder's message for them is obscure).
        guard String(validatingUTF8Bytes: data) != nil else {
            throw APIError(.invalidJSON, "request body is not valid UTF-8")
        }
        return data
    }
}

/// Decodes a collected request body as JSON `T`.
func decodeJSONBody<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
    try JSONDecoder().decode(T.self, from: data)
}

extension String {
    init?(validatingUTF8Bytes data: Data) {
        guard let s = String(bytes: data, encoding: .utf8) else { return nil }
        self = s
    }
}

/// A JSON response with the timing headers.
func jsonResponse<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
    let data = try JSONEncoder.api.encode(value)
    var fields = headers
    fields[.contentType] = "application/json"
    return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// A JSON value that may be one item or a list of items (`"a"` or `["a", "b"]`).
enum OneOrMany<T: Decodable & Sendable>: Decodable, Sendable {
    case one(T)
    case many([T])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(T.self) { self = .one(v); return }
        self = .many(try c.decode([T].self))
    }

    var items: [T] {
        switch self {
        case let .one(v): [v]
        case let .many(v): v
        }
    }
}

/// Embedding inputs as TEI and OpenAI accept them: text(s) or token id list(s).
enum EmbeddingInputs: Decodable, Sendable {
    case texts([String], single: Bool)
    case tokens([[Int]], single: Bool)

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self = .texts([s], single: true); return }
        if let s = try? c.decode([String].self) { self = .texts(s, single: false); return }
        if let ids = try? c.decode([Int].self) {
            // `[]` decodes as an empty list of texts (a batch of nothing), not as one empty token list.
            self = ids.isEmpty ? .texts([], single: false) : .tokens([ids], single: true)
            return
        }
        if let ids = try? c.decode([[Int]].self) { self = .tokens(ids, single: false); return }
        throw DecodingError.typeMismatch(
            EmbeddingInputs.self,
            .init(codingPath: decoder.codingPath,
                  debugDescription: "expected a string, a list of strings, a list of token ids or a list of token id lists"))
    }

    var count: Int {
        switch self {
        case let .texts(t, _): t.count
        case let .tokens(t, _): t.count
        }
    }

    /// One input (not a list): TEI's `method="single"`.
    var isSingle: Bool {
        switch self {
        case let .texts(_, single), let .tokens(_, single): single
        }
    }

    var isTokenIDs: Bool {
        if case .tokens = self { return true }
        return false
    }
}
