/// Request and response bodies of the OpenAI-compatible and Jina/Cohere-style routes.

struct OpenAIEmbeddingRequest: Decodable, Sendable {
    var input: EmbeddingInputs
    var model: String?
    var encoding_format: String?
    var dimensions: Int?
    var user: String?
    // Extensions of this server.
    var task: String?
    var `protocol`: String?
    var instruction: String?
    var normalize: Bool?
    var truncate: Bool?
    var truncation_direction: String?
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

/// A rerank document: a string, or an object with a `text` field (Jina and Cohere accept both).
struct RerankDocument: Decodable, Sendable {
    var text: String

    init(from decoder: any Decoder) throws {
        if let s = try? decoder.singleValueContainer().decode(String.self) {
            text = s
            return
        }
        enum Keys: String, CodingKey { case text }
        text = try decoder.container(keyedBy: Keys.self).decode(String.self, forKey: .text)
    }
}

struct JinaRerankRequest: Decodable, Sendable {
    var query: String
    var documents: [RerankDocument]
    var model: String?
    var top_n: Int?
    var return_documents: Bool?
    var truncate: Bool?
    var truncation_direction: String?
}

struct JinaRerankResponse: Encodable, Sendable {
    struct Result: Encodable, Sendable {
        struct Document: Encodable, Sendable { var text: String }
        var index: Int
        var relevance_score: Float
        var document: Document?
    }
    struct Usage: Encodable, Sendable { var total_tokens: Int }
    var model: String
    var results: [Result]
    var usage: Usage
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
