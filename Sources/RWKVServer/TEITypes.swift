import RWKVRetrieval

/// Request and response bodies of the text-embeddings-inference compatible routes.

struct TEIEmbedRequest: Decodable, Sendable {
    var inputs: EmbeddingInputs
    /// normalize, truncate, truncation_direction, prompt_name and this server's task, protocol, instruction.
    var fields: EmbedRequestFields
    /// Only the model's width is accepted (it was not trained for truncated embeddings).
    var dimensions: Int?
    /// The Hugging Face task format nests the options here.
    var parameters: Parameters?

    struct Parameters: Decodable, Sendable {
        var fields: EmbedRequestFields
        var dimensions: Int?

        init(from decoder: any Decoder) throws {
            fields = try EmbedRequestFields(from: decoder)
            dimensions = try decoder.container(keyedBy: DimensionsKey.self).decodeIfPresent(Int.self, forKey: .dimensions)
        }
    }

    private enum CodingKeys: String, CodingKey { case inputs, parameters }
    fileprivate enum DimensionsKey: String, CodingKey { case dimensions }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inputs = try c.decode(EmbeddingInputs.self, forKey: .inputs)
        fields = try EmbedRequestFields(from: decoder)
        dimensions = try decoder.container(keyedBy: DimensionsKey.self).decodeIfPresent(Int.self, forKey: .dimensions)
        parameters = try c.decodeIfPresent(Parameters.self, forKey: .parameters)
    }
}

/// Tells a sentence-similarity body (`inputs: {source_sentence, ...}`) from an embedding body.
struct TEISimilarityProbe: Decodable, Sendable {
    struct Inputs: Decodable, Sendable { var source_sentence: String }
    var inputs: Inputs
}

/// `/embed_all`: per-token embeddings (not normalised: no `normalize` field).
struct TEIEmbedAllRequest: Decodable, Sendable {
    var inputs: EmbeddingInputs
    var fields: EmbedRequestFields

    private enum CodingKeys: String, CodingKey { case inputs }

    init(from decoder: any Decoder) throws {
        inputs = try decoder.container(keyedBy: CodingKeys.self).decode(EmbeddingInputs.self, forKey: .inputs)
        fields = try EmbedRequestFields(from: decoder, readingNormalize: false)
    }
}

/// `/similarity` (the Hugging Face sentence-similarity task).
struct TEISimilarityRequest: Decodable, Sendable {
    struct Inputs: Decodable, Sendable {
        var source_sentence: String
        var sentences: [String]
    }
    /// The embedding fields but `normalize` (cosines of normalised vectors); default task: sts, the head trained for similarity.
    struct Parameters: Decodable, Sendable {
        var fields: EmbedRequestFields
        init(from decoder: any Decoder) throws { fields = try EmbedRequestFields(from: decoder, readingNormalize: false) }
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
    @NullWhenAbsent var model_sha: String?
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
    @NullWhenAbsent var max_batch_requests: Int?
    var max_client_batch_size: Int
    var max_client_batch_tokens: Int
    var auto_truncate: Bool
    var tokenization_workers: Int
    var version: String
    @NullWhenAbsent var sha: String?
    @NullWhenAbsent var docker_label: String?
}
