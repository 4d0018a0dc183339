import RWKVRetrieval

/// Request and response bodies of the OpenAI-compatible and Jina/Cohere-style routes.

struct OpenAIEmbeddingRequest: Decodable, Sendable {
    var input: EmbeddingInputs
    var model: String?
    var encoding_format: String?
    var dimensions: Int?
    var user: String?
    /// Extensions of this server: the embedding fields of the TEI routes.
    var fields: EmbedRequestFields

    private enum CodingKeys: String, CodingKey { case input, model, encoding_format, dimensions, user }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        input = try c.decode(EmbeddingInputs.self, forKey: .input)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        encoding_format = try c.decodeIfPresent(String.self, forKey: .encoding_format)
        dimensions = try c.decodeIfPresent(Int.self, forKey: .dimensions)
        user = try c.decodeIfPresent(String.self, forKey: .user)
        fields = try EmbedRequestFields(from: decoder)
    }
}

/// A float vector or its base64 form (little-endian float32), as OpenAI returns them.
enum EmbeddingValue: Encodable, Sendable {
    case float([Float])
    case base64(String)

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case let .float(v): try c.encode(v)
        case let .base64(s): try c.encode(s)
        }
    }

    static func base64(of vector: [Float]) -> EmbeddingValue {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(vector.count * 4)
        for f in vector {
            let bits = f.bitPattern.littleEndian
            withUnsafeBytes(of: bits) { bytes.append(contentsOf: $0) }
        }
        return .base64(Base64.encode(bytes))
    }
}

struct OpenAIEmbeddingResponse: Encodable, Sendable {
    struct Item: Encodable, Sendable {
        var object = "embedding"
        var embedding: EmbeddingValue
        var index: Int
    }
    struct Usage: Encodable, Sendable {
        var prompt_tokens: Int
        var total_tokens: Int
    }
    var object = "list"
    var data: [Item]
    var model: String
    var usage: Usage
}

struct OpenAIModelList: Encodable, Sendable {
    struct Model: Encodable, Sendable {
        var id: String
        var object = "model"
        var created: Int
        var owned_by: String
    }
    var object = "list"
    var data: [Model]
}

/// A rerank document: a string, or an object (Jina and Cohere accept both). Objects are echoed
/// whole in the response; the text ranked is their `text` field, or Cohere v1's `rank_fields`.
struct RerankDocument: Decodable, Sendable {
    var value: JSONValue

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            value = .string(s)
            return
        }
        let object = try c.decode([String: JSONValue].self)
        value = .object(object)
    }

    /// The text the reranker reads: a string document itself; for an object the `rank_fields`
    /// (default `["text"]`), one field alone as its value, several as `field: value` lines.
    func text(rankFields: [String]?, index: Int) throws(APIError) -> String {
        switch value {
        case let .string(s): return s
        case let .object(o):
            let fields = rankFields ?? ["text"]
            var parts: [(String, String)] = []
            for field in fields {
                switch o[field] {
                case let .string(s)?: parts.append((field, s))
                case nil, .null?: continue
                case let other?: parts.append((field, other.text))
                }
            }
            guard !parts.isEmpty else {
                throw APIError.validation("`documents[\(index)]` has none of the fields \(fields.map { "`\($0)`" }.joined(separator: ", ")) as text",
                                          param: "documents")
            }
            return parts.count == 1 ? parts[0].1 : parts.map { "\($0.0): \($0.1)" }.joined(separator: "\n")
        default:
            throw APIError.validation("`documents[\(index)]` must be a string or an object", param: "documents")
        }
    }

    /// The document as echoed in a response: objects whole, strings as `{"text": ...}`.
    var echoed: JSONValue {
        if case let .string(s) = value { return .object(["text": .string(s)]) }
        return value
    }
}

/// The rerank body Jina and Cohere share: `/v2/rerank` (Cohere v2; documents are strings, objects with
/// `text` are taken too) is this, `/v1/rerank` this and `rank_fields`.
struct RerankRequest: Decodable, Sendable {
    var query: String
    var documents: [RerankDocument]
    var model: String?
    var top_n: Int?
    var return_documents: Bool?
    var truncate: Bool?
    var truncation_direction: String?
    var max_tokens_per_doc: Int?
}

/// `/v1/rerank`: Jina's request, with Cohere v1's fields (`rank_fields`, `max_chunks_per_doc`
/// is accepted and ignored) and `max_tokens_per_doc`.
struct JinaRerankRequest: Decodable, Sendable {
    var request: RerankRequest
    var rank_fields: [String]?

    private enum CodingKeys: String, CodingKey { case rank_fields }

    init(from decoder: any Decoder) throws {
        request = try RerankRequest(from: decoder)
        rank_fields = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent([String].self, forKey: .rank_fields)
    }
}

/// The rerank response read by Jina and Cohere clients alike (Jina: `model`, `usage`; Cohere: `id`, `meta`).
struct RerankResponse: Encodable, Sendable {
    struct Result: Encodable, Sendable {
        var index: Int
        var relevance_score: Float
        var document: JSONValue?
    }
    struct Usage: Encodable, Sendable { var total_tokens: Int }
    struct Meta: Encodable, Sendable {
        struct Version: Encodable, Sendable { var version: String }
        struct Billed: Encodable, Sendable { var search_units: Int }
        var api_version: Version
        var billed_units: Billed
    }
    var id: String
    var model: String
    var results: [Result]
    var usage: Usage
    var meta: Meta
}

/// Standard base64 with padding (no Foundation dependency in the hot path).
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
