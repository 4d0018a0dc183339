/// The embedding options every embedding body carries under the same names (OpenAI's `/v1/embeddings`,
/// TEI's `/embed`, `/embed_all` and `/similarity`, and the Hugging Face task format's `parameters`):
/// decoded from the body's own level, beside its other fields, and turned into `EmbedOptions` in one place.
struct EmbedRequestFields: Decodable, Sendable {
    var normalize: Bool?
    var truncate: Bool?
    var truncation_direction: String?
    // Extensions of this server: task head, input protocol and query instruction.
    var task: String?
    var `protocol`: String?
    var instruction: String?
    /// TEI's name for an instruction preset: "query" uses the default retrieval instruction.
    var prompt_name: String?

    init() {}

    init(from decoder: any Decoder) throws { try self.init(from: decoder, readingNormalize: true) }

    /// `readingNormalize: false` for the routes that decide normalisation themselves (`/embed_all`,
    /// `/similarity`): their bodies have no `normalize` field, so a stray one is not read.
    init(from decoder: any Decoder, readingNormalize: Bool) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if readingNormalize { normalize = try c.decodeIfPresent(Bool.self, forKey: .normalize) }
        truncate = try c.decodeIfPresent(Bool.self, forKey: .truncate)
        truncation_direction = try c.decodeIfPresent(String.self, forKey: .truncation_direction)
        task = try c.decodeIfPresent(String.self, forKey: .task)
        self.protocol = try c.decodeIfPresent(String.self, forKey: .protocol)
        instruction = try c.decodeIfPresent(String.self, forKey: .instruction)
        prompt_name = try c.decodeIfPresent(String.self, forKey: .prompt_name)
    }

    private enum CodingKeys: String, CodingKey {
        case normalize, truncate, truncation_direction, task, `protocol`, instruction, prompt_name
    }

    /// Each field as given here, else as given in `fallback` (the body's top level over its `parameters`).
    func or(_ fallback: EmbedRequestFields?) -> EmbedRequestFields {
        guard let f = fallback else { return self }
        var merged = EmbedRequestFields()
        merged.normalize = normalize ?? f.normalize
        merged.truncate = truncate ?? f.truncate
        merged.truncation_direction = truncation_direction ?? f.truncation_direction
        merged.task = task ?? f.task
        merged.protocol = self.protocol ?? f.protocol
        merged.instruction = instruction ?? f.instruction
        merged.prompt_name = prompt_name ?? f.prompt_name
        return merged
    }

    /// The options these fields ask for; `task` when the body names none, `normalize` when the route decides it.
    func options(defaultTask: String? = nil, normalize forced: Bool? = nil,
                 config: ServerConfiguration) throws(APIError) -> EmbedOptions {
        try EmbedOptions(task: task ?? defaultTask, protocol: self.protocol,
                         instruction: EmbedOptions.instruction(instruction, promptName: prompt_name),
                         normalize: forced ?? normalize, truncate: truncate, direction: truncation_direction, config: config)
    }
}
