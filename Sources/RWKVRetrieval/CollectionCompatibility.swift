import EmbeddingRWKV

extension CollectionConfiguration {
    /// What differs between this configuration and an existing collection's manifest (nil: nothing that
    /// matters; the checkpoint paths are hints and never differ in a way that counts).
    func difference(from manifest: CollectionManifest) -> String? {
        var parts: [String] = []
        if statePrecision != manifest.statePrecision {
            parts.append("the collection stores \(manifest.statePrecision.rawValue) states, not \(statePrecision.rawValue)")
        }
        if inputProtocol.rawValue != manifest.inputProtocol {
            parts.append("the collection uses the \(manifest.inputProtocol) input protocol, not \(inputProtocol.rawValue)")
        }
        let stored = manifest.passageOptions
        let sameSplit = passages.split == stored.split
            && (!stored.split || (passages.maxTokens == stored.maxTokens && passages.overlapTokens == stored.overlapTokens))
        if !sameSplit {
            parts.append("the collection splits documents as \(Self.describe(manifest.passageOptions)), not \(Self.describe(passages))")
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    private static func describe(_ p: PassageOptions) -> String {
        p.split ? "passages of \(p.maxTokens) tokens (overlap \(p.overlapTokens))" : "one passage per document"
    }
}

/// The models given compute in another weight precision than the one a collection's embeddings and states
/// were computed with. Allowed, not refused: every precision stays within its tested bound of fp32
/// (bf16: cosine >= 0.9999, rerank logits within 2e-2; int8: cosine >= 0.999, logits within 5e-2), so
/// a collection stays usable from a machine whose kernels resolve `auto` differently; but new passages
/// and queries then differ from the stored ones by up to that bound, which the caller should say.
public struct WeightPrecisionMismatch: Sendable, Equatable, CustomStringConvertible {
    /// What the collection recorded at creation.
    public var collection: WeightPrecision
    /// What the models given compute in.
    public var given: WeightPrecision

    public init(collection: WeightPrecision, given: WeightPrecision) {
        self.collection = collection
        self.given = given
    }

    public var description: String {
        "the collection's embeddings and states were computed with \(collection.rawValue) weights, these models compute in "
            + "\(given.rawValue): new passages and query embeddings differ from stored ones within the precision bounds of fp32"
    }
}

extension DocumentCollection {
    /// Non-nil when the models this collection was opened with compute in another weight precision than
    /// the one recorded in its manifest (adds and searches still work: see `WeightPrecisionMismatch`).
    public var weightPrecisionMismatch: WeightPrecisionMismatch? {
        guard let recorded = manifest.weightPrecision, let given = models?.model.precision, recorded != given else { return nil }
        return WeightPrecisionMismatch(collection: recorded, given: given)
    }
}
