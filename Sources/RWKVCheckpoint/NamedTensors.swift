import Foundation

/// The typed weights back as checkpoint tensors: the published key names and file shapes
/// (per-channel vectors as [1, 1, C], r_k as [H, N]). Used to write checkpoints (tests, benchmarks).
public struct NamedTensor: Sendable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]
}

extension EmbeddingModelWeights {
    public var namedTensors: [NamedTensor] {
        let c = architecture.embeddingSize
        var tensors = [NamedTensor(name: "rwkv.emb.weight", shape: embedding.shape, values: embedding.values)]
        tensors += blockTensors(blocks, prefix: "rwkv.", architecture)
        tensors += layerNormTensors(lnOut, "rwkv.ln_out", c)
        for (name, head) in [("cls_head", classificationHead), ("sts_head", similarityHead), ("retr_head", retrievalHead)] {
            tensors.append(NamedTensor(name: "head.\(name).fc1.weight", shape: head.fc1.shape, values: head.fc1.values))
            tensors.append(NamedTensor(name: "head.\(name).fc2.weight", shape: head.fc2.shape, values: head.fc2.values))
            tensors += layerNormTensors(head.norm, "head.\(name).norm", c)
        }
        return tensors
    }
}

extension RerankerWeights {
    public var namedTensors: [NamedTensor] {
        let c = architecture.embeddingSize
        var tensors = [NamedTensor(name: "reranker.emb.weight", shape: [1, c], values: token)]
        tensors += blockTensors(blocks, prefix: "reranker.", architecture)
        tensors += layerNormTensors(lnOut, "reranker.ln_out", c)
        tensors.append(NamedTensor(name: "reranker.head.0.weight", shape: hiddenWeight.shape, values: hiddenWeight.values))
        tensors.append(NamedTensor(name: "reranker.head.0.bias", shape: [c], values: hiddenBias))
        tensors.append(NamedTensor(name: "reranker.head.2.weight", shape: scoreWeight.shape, values: scoreWeight.values))
        return tensors
    }
}

private func layerNormTensors(_ norm: LayerNormWeights, _ prefix: String, _ c: Int) -> [NamedTensor] {
    [NamedTensor(name: prefix + ".weight", shape: [c], values: norm.weight), NamedTensor(name: prefix + ".bias", shape: [c], values: norm.bias)]
}

private func blockTensors(_ blocks: [BlockWeights], prefix: String, _ architecture: ModelArchitecture) -> [NamedTensor] {
    let c = architecture.embeddingSize
    var tensors: [NamedTensor] = []
    for (layer, block) in blocks.enumerated() {
        let b = "\(prefix)blocks.\(layer)."
        let att = b + "att."
        func vector(_ name: String, _ values: [Float]) { tensors.append(NamedTensor(name: att + name, shape: [1, 1, c], values: values)) }
        func matrix(_ name: String, _ tensor: FloatTensor) { tensors.append(NamedTensor(name: name, shape: tensor.shape, values: tensor.values)) }
        if let ln0 = block.ln0 { tensors += layerNormTensors(ln0, b + "ln0", c) }
        tensors += layerNormTensors(block.ln1, b + "ln1", c)
        tensors += layerNormTensors(block.ln2, b + "ln2", c)
        let t = block.timeMix
        vector("x_r", t.xR); vector("x_w", t.xW); vector("x_k", t.xK); vector("x_v", t.xV); vector("x_a", t.xA); vector("x_g", t.xG)
        matrix(att + "w1", t.w1); matrix(att + "w2", t.w2); vector("w0", t.w0)
        matrix(att + "a1", t.a1); matrix(att + "a2", t.a2); vector("a0", t.a0)
        if let v0 = t.v0, let v1 = t.v1, let v2 = t.v2 { matrix(att + "v1", v1); matrix(att + "v2", v2); vector("v0", v0) }
        matrix(att + "g1", t.g1); matrix(att + "g2", t.g2)
        vector("k_k", t.kK); vector("k_a", t.kA)
        tensors.append(NamedTensor(name: att + "r_k", shape: [architecture.headCount, architecture.headSize], values: t.rK))
        matrix(att + "receptance.weight", t.receptance); matrix(att + "key.weight", t.key)
        matrix(att + "value.weight", t.value); matrix(att + "output.weight", t.output)
        tensors += layerNormTensors(t.lnX, att + "ln_x", c)
        tensors.append(NamedTensor(name: b + "ffn.x_k", shape: [1, 1, c], values: block.channelMix.xK))
        matrix(b + "ffn.key.weight", block.channelMix.key)
        matrix(b + "ffn.value.weight", block.channelMix.value)
    }
    return tensors
}

/// Writes typed weights as a safetensors checkpoint with the published key names.
public enum CheckpointWriter {
    public static func write(_ weights: EmbeddingModelWeights, to url: URL, dtype: TensorDType = .float32) throws {
        try write(weights.namedTensors, metadata: [:], to: url, dtype: dtype)
    }

    public static func write(_ weights: RerankerWeights, to url: URL, dtype: TensorDType = .float32) throws {
        let indices = "[" + weights.layerIndices.map(String.init).joined(separator: ", ") + "]"
        try write(weights.namedTensors, metadata: ["reranker_layer_idx": indices], to: url, dtype: dtype)
    }

    static func write(_ tensors: [NamedTensor], metadata: [String: String], to url: URL, dtype: TensorDType) throws {
        var writer = SafetensorsWriter(metadata: metadata)
        for tensor in tensors { try writer.add(tensor.name, shape: tensor.shape, values: tensor.values, as: dtype) }
        try writer.write(to: url)
    }
}
