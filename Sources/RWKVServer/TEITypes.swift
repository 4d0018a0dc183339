/// Request and response bodies of the text-embeddings-inference compatible routes.

struct TEIEmbedRequest: Decodable, Sendable {
    var inputs: EmbeddingInputs
    var normalize: Bool?
    var truncate: Bool?
    var truncation_direction: String?
    // Extensions of this server: task head, input protocol and query instruction.
    var task: String?
    var `protocol`: String?
    var instruction: String?
    /// TEI's name for an instruction preset: "query" uses the default retrieval instruction.
    var prompt_name: String?
}

struct TEIRerankRequest: Decodable, Sendable {
    var query: String
    var texts: [String]
    var truncate: Bool?
    var truncation_direction: String?
    var raw_scores: Bool?
    var return_text: Bool?
}

struct TEIRank: Encodable, Sendable {
    var index: Int
    var score: Float
    var text: String?
}

struct TEITokenizeRequest: Decodable, Sendable {
    var inputs: OneOrMany<String>
    var add_special_tokens: Bool?
}

struct TEIToken: Encodable, Sendable {
    var id: Int
    var text: String
    var special: Bool
    /// Byte offsets of the token in the input (nil for EOS).
    var start: Int?
    var stop: Int?
}

struct TEIDecodeRequest: Decodable, Sendable {
    var ids: OneOrMany<[Int]>
    var skip_special_tokens: Bool?

    init(from decoder: any Decoder) throws {
        enum Keys: String, CodingKey { case ids, skip_special_tokens }
        let c = try decoder.container(keyedBy: Keys.self)
        skip_special_tokens = try c.decodeIfPresent(Bool.self, forKey: .skip_special_tokens)
        // `ids`: one list of ids or a list of lists.
        if let one = try? c.decode([Int].self, forKey: .ids) {
            ids = .one(one)
        } else {
            ids = .many(try c.decode([[Int]].self, forKey: .ids))
        }
    }
}

struct TEIInfo: Encodable, Sendable {
    struct ModelType: Encodable, Sendable {
        struct Embedding: Encodable, Sendable { var pooling: String }
        var embedding: Embedding
    }
    var model_id: String
    var model_sha: String?
    var model_dtype: String
    var checkpoint_dtypes: [String]
    var model_type: ModelType
    var embedding_dimensions: Int
    var layers: Int
    var reranker: Bool
    var max_concurrent_requests: Int
    var max_input_length: Int
    var max_batch_tokens: Int
    var max_batch_requests: Int?
    var max_client_batch_size: Int
    var auto_truncate: Bool
    var tokenization_workers: Int
    var version: String
    var sha: String?
    var docker_label: String?
}
