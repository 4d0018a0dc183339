import RWKVRetrieval

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
    /// Only the model's width is accepted (it was not trained for truncated embeddings).
    var dimensions: Int?
    /// The Hugging Face task format nests the options here.
    var parameters: Parameters?

    struct Parameters: Decodable, Sendable {
        var normalize: Bool?
        var truncate: Bool?
        var truncation_direction: String?
        var prompt_name: String?
        var dimensions: Int?
        var task: String?
        var `protocol`: String?
        var instruction: String?
    }
}

/// Tells a sentence-similarity body (`inputs: {source_sentence, ...}`) from an embedding body.
struct TEISimilarityProbe: Decodable, Sendable {
    struct Inputs: Decodable, Sendable { var source_sentence: String }
    var inputs: Inputs
}

/// `/embed_all`: per-token embeddings.
struct TEIEmbedAllRequest: Decodable, Sendable {
    var inputs: EmbeddingInputs
    var truncate: Bool?
    var truncation_direction: String?
    var prompt_name: String?
    var task: String?
    var `protocol`: String?
    var instruction: String?
}

/// `/similarity` (the Hugging Face sentence-similarity task).
struct TEISimilarityRequest: Decodable, Sendable {
    struct Inputs: Decodable, Sendable {
        var source_sentence: String
        var sentences: [String]
    }
    struct Parameters: Decodable, Sendable {
        var truncate: Bool?
        var truncation_direction: String?
        var prompt_name: String?
        // Extensions of this server (default task: sts, the head trained for similarity).
        var task: String?
        var `protocol`: String?
        var instruction: String?
    }
    var inputs: Inputs
    var parameters: Parameters?
}

/// `/predict` (sequence classification): decoded only so that bad bodies get their 4xx first.
struct TEIPredictRequest: Decodable, Sendable {
    var inputs: JSONValue
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

/// `/info`, with every field TEI sends (absent values as explicit `null`).
struct TEIInfo: Encodable, Sendable {
    struct ModelType: Encodable, Sendable {
        struct Embedding: Encodable, Sendable { var pooling: String }
        var embedding: Embedding
    }
    var model_id: String
    var model_sha: String?
    /// The dtype the engine computes in ("float32" for now; the precision work makes it the served model's).
    var model_dtype: String
    var served_model_name: String
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
    var max_client_batch_tokens: Int
    var auto_truncate: Bool
    var tokenization_workers: Int
    var version: String
    var sha: String?
    var docker_label: String?

    enum CodingKeys: String, CodingKey {
        case model_id, model_sha, model_dtype, served_model_name, checkpoint_dtypes, model_type, embedding_dimensions,
             layers, reranker, max_concurrent_requests, max_input_length, max_batch_tokens, max_batch_requests,
             max_client_batch_size, max_client_batch_tokens, auto_truncate, tokenization_workers, version, sha, docker_label
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model_id, forKey: .model_id)
        try c.encode(model_sha, forKey: .model_sha)
        try c.encode(model_dtype, forKey: .model_dtype)
        try c.encode(served_model_name, forKey: .served_model_name)
        try c.encode(checkpoint_dtypes, forKey: .checkpoint_dtypes)
        try c.encode(model_type, forKey: .model_type)
        try c.encode(embedding_dimensions, forKey: .embedding_dimensions)
        try c.encode(layers, forKey: .layers)
        try c.encode(reranker, forKey: .reranker)
        try c.encode(max_concurrent_requests, forKey: .max_concurrent_requests)
        try c.encode(max_input_length, forKey: .max_input_length)
        try c.encode(max_batch_tokens, forKey: .max_batch_tokens)
        try c.encode(max_batch_requests, forKey: .max_batch_requests)
        try c.encode(max_client_batch_size, forKey: .max_client_batch_size)
        try c.encode(max_client_batch_tokens, forKey: .max_client_batch_tokens)
        try c.encode(auto_truncate, forKey: .auto_truncate)
        try c.encode(tokenization_workers, forKey: .tokenization_workers)
        try c.encode(version, forKey: .version)
        try c.encode(sha, forKey: .sha)
        try c.encode(docker_label, forKey: .docker_label)
    }
}
