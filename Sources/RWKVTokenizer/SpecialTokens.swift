/// Token ids with a fixed meaning in EmbeddingRWKV.
public enum SpecialTokens {
    /// End of sequence: embeddings pool the model's outputs at these positions.
    public static let eos = 65535
    /// Padding (also the `<|endoftext|>` id of the world vocabulary).
    public static let pad = 0
}
