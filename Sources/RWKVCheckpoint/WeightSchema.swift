/// Turns located tensors into the typed weights of `ModelWeights.swift`: reads the architecture
/// from the shapes, checks that every required tensor is present with the expected shape, and
/// converts each to fp32 exactly once. Tensors it does not consume are reported as unused.
struct TensorTaker {
    private let contents: CheckpointContents
    private var byName: [String: TensorView] = [:]
    private(set) var consumed = Set<String>()
    /// The parameters converted (sum of element counts of the consumed tensors).
    private(set) var parameterCount = 0

    init(_ contents: CheckpointContents) throws {
        self.contents = contents
        for view in contents.tensors {
            guard byName.updateValue(view, forKey: view.name) == nil else {
                throw CheckpointError.malformedPickle("tensor \(view.name) appears twice")
            }
        }
    }

    func has(_ key: String) -> Bool { byName[key] != nil }

    func shape(of key: String, hint: String = "") throws -> [Int] {
        guard let view = byName[key] else { throw CheckpointError.missingTensor(key: key, hint: hint) }
        return view.shape
    }

    /// The names of all tensors (file order).
    var names: [String] { contents.tensors.map(\.name) }

    /// Reads `key`, requiring exactly `shape` (or one of `alternatives`, e.g. [1, 1, C] or [C] for a vector).
    mutating func tensor(_ key: String, _ shape: [Int], or alternatives: [[Int]] = [], hint: String = "") throws -> FloatTensor {
        guard let view = byName[key] else { throw CheckpointError.missingTensor(key: key, hint: hint) }
        guard view.shape == shape || alternatives.contains(view.shape) else {
            throw CheckpointError.wrongShape(key: key, expected: shape, found: view.shape)
        }
        let values = try view.floats(from: contents.source)
        consumed.insert(key)
        parameterCount += values.count
        return FloatTensor(shape: shape, values: values)
    }

    /// A per-channel vector, stored [C] or [1, 1, C] (or [1, C]); returned flat.
    mutating func vector(_ key: String, _ count: Int, hint: String = "") throws -> [Float] {
        try tensor(key, [count], or: [[1, count], [1, 1, count]], hint: hint).values
    }

    mutating func layerNorm(_ prefix: String, _ width: Int) throws -> LayerNormWeights {
        LayerNormWeights(weight: try vector(prefix + ".weight", width), bias: try vector(prefix + ".bias", width))
    }

    var unusedNames: [String] { names.filter { !consumed.contains($0) } }
}

/// Reads the shape of an RWKV-7 stack (`prefix` = "rwkv." or "reranker.").
enum WeightSchema {
    static func architecture(_ taker: TensorTaker, prefix: String, vocabularyKey: String) throws -> ModelArchitecture {
        let hint = "is this a \(prefix == "rwkv." ? "embedding" : "reranker") checkpoint?"
        let headShape = try taker.shape(of: prefix + "blocks.0.att.r_k", hint: hint)
        guard headShape.count == 2, headShape[0] > 0, headShape[1] > 0 else {
            throw CheckpointError.inconsistentArchitecture("\(prefix)blocks.0.att.r_k has shape \(headShape), expected [heads, head size]")
        }
        let (headCount, headSize) = (headShape[0], headShape[1])
        let width = try checkedMultiply(headCount, headSize, "the model width")

        var layerCount = 0
        for name in taker.names where name.hasPrefix(prefix + "blocks.") {
            let parts = name.dropFirst(prefix.count + "blocks.".count).split(separator: ".", maxSplits: 1)
            guard let index = parts.first.flatMap({ Int($0) }), index >= 0, index < 100_000 else {
                throw CheckpointError.inconsistentArchitecture("cannot read the block index of \(name)")
            }
            layerCount = max(layerCount, index + 1)
        }

        let vocabularyShape = try taker.shape(of: vocabularyKey, hint: hint)
        guard vocabularyShape.count == 2, vocabularyShape[1] == width else {
            throw CheckpointError.wrongShape(key: vocabularyKey, expected: [vocabularyShape.first ?? 1, width], found: vocabularyShape)
        }
        func rank(_ key: String) throws -> Int {
            let shape = try taker.shape(of: key)
            guard shape.count == 2, shape[0] == width else { throw CheckpointError.wrongShape(key: key, expected: [width, shape.last ?? 0], found: shape) }
            return shape[1]
        }
        let feedForward = try taker.shape(of: prefix + "blocks.0.ffn.key.weight")
        guard feedForward.count == 2, feedForward[1] == width else {
            throw CheckpointError.wrongShape(key: prefix + "blocks.0.ffn.key.weight", expected: [feedForward.first ?? 0, width], found: feedForward)
        }
        return ModelArchitecture(
            layerCount: layerCount, embeddingSize: width, headCount: headCount, headSize: headSize,
            vocabularySize: vocabularyShape[0],
            decayRank: try rank(prefix + "blocks.0.att.w1"),
            inContextRateRank: try rank(prefix + "blocks.0.att.a1"),
            valueResidualRank: layerCount > 1 ? try rank(prefix + "blocks.1.att.v1") : 0,
            gateRank: try rank(prefix + "blocks.0.att.g1"),
            feedForwardSize: feedForward[0])
    }

    static func blocks(_ taker: inout TensorTaker, prefix: String, _ architecture: ModelArchitecture) throws -> [BlockWeights] {
        let c = architecture.embeddingSize
        let f = architecture.feedForwardSize
        var blocks: [BlockWeights] = []
        blocks.reserveCapacity(min(architecture.layerCount, 1024))
        for layer in 0..<architecture.layerCount {
            let block = "\(prefix)blocks.\(layer)."
            let att = block + "att."
            let ln0 = layer == 0 ? try taker.layerNorm(block + "ln0", c) : nil
            let ln1 = try taker.layerNorm(block + "ln1", c)
            let ln2 = try taker.layerNorm(block + "ln2", c)
            func lora(_ name: String, _ rank: Int) throws -> (FloatTensor, FloatTensor) {
                (try taker.tensor(att + name + "1", [c, rank]), try taker.tensor(att + name + "2", [rank, c]))
            }
            let xR = try taker.vector(att + "x_r", c), xW = try taker.vector(att + "x_w", c), xK = try taker.vector(att + "x_k", c)
            let xV = try taker.vector(att + "x_v", c), xA = try taker.vector(att + "x_a", c), xG = try taker.vector(att + "x_g", c)
            let w0 = try taker.vector(att + "w0", c)
            let (w1, w2) = try lora("w", architecture.decayRank)
            let a0 = try taker.vector(att + "a0", c)
            let (a1, a2) = try lora("a", architecture.inContextRateRank)
            // Block 0 has no value residual (it defines v_first); extra v0/v1/v2 there are ignored, like the reference does.
            var v0: [Float]? = nil, v1: FloatTensor? = nil, v2: FloatTensor? = nil
            if layer > 0 {
                v0 = try taker.vector(att + "v0", c)
                (v1, v2) = try lora("v", architecture.valueResidualRank)
            }
            let (g1, g2) = try lora("g", architecture.gateRank)
            let kK = try taker.vector(att + "k_k", c), kA = try taker.vector(att + "k_a", c)
            let rK = try taker.tensor(att + "r_k", [architecture.headCount, architecture.headSize]).values
            let timeMix = TimeMixWeights(
                xR: xR, xW: xW, xK: xK, xV: xV, xA: xA, xG: xG, w0: w0, w1: w1, w2: w2, a0: a0, a1: a1, a2: a2,
                v0: v0, v1: v1, v2: v2, g1: g1, g2: g2, kK: kK, kA: kA, rK: rK,
                receptance: try taker.tensor(att + "receptance.weight", [c, c]),
                key: try taker.tensor(att + "key.weight", [c, c]),
                value: try taker.tensor(att + "value.weight", [c, c]),
                output: try taker.tensor(att + "output.weight", [c, c]),
                lnX: try taker.layerNorm(att + "ln_x", c))
            let channelMix = ChannelMixWeights(
                xK: try taker.vector(block + "ffn.x_k", c),
                key: try taker.tensor(block + "ffn.key.weight", [f, c]),
                value: try taker.tensor(block + "ffn.value.weight", [c, f]))
            blocks.append(BlockWeights(ln0: ln0, ln1: ln1, ln2: ln2, timeMix: timeMix, channelMix: channelMix))
        }
        return blocks
    }

    static func taskHead(_ taker: inout TensorTaker, _ name: String, width: Int) throws -> TaskHeadWeights {
        let prefix = "head.\(name)."
        let hidden = try taker.shape(of: prefix + "fc1.weight").first ?? 0
        return TaskHeadWeights(
            fc1: try taker.tensor(prefix + "fc1.weight", [hidden, width]),
            fc2: try taker.tensor(prefix + "fc2.weight", [width, hidden]),
            norm: try taker.layerNorm(prefix + "norm", width))
    }

    /// Human-readable notes about tensors the text model does not use.
    static func unusedNotes(_ unused: [String]) -> [String] {
        var notes: [String] = []
        let imageTower = unused.filter { $0.hasPrefix("vit.") || $0.hasPrefix("proj.") }
        if !imageTower.isEmpty {
            notes.append("the checkpoint has an image tower (\(imageTower.count) vit.*/proj.* tensors); it is not used by the text model")
        }
        if unused.contains("rwkv.head.weight") { notes.append("rwkv.head.weight (a language-model head) is not used by the embedding model") }
        let other = unused.filter { !$0.hasPrefix("vit.") && !$0.hasPrefix("proj.") && $0 != "rwkv.head.weight" }
        if !other.isEmpty {
            notes.append("\(other.count) unused tensor(s): " + other.prefix(8).joined(separator: ", ") + (other.count > 8 ? ", ..." : ""))
        }
        return notes
    }
}
