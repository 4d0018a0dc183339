import RWKVKernels

extension RWKVModel {
    /// Runs a batch of token sequences of any lengths, each from its own state, and advances the states in
    /// place. Sequences are packed as rows without padding, so a sequence's result does not depend on the
    /// rest of the batch. The state's depth decides how many layers run: a state sliced to layers 0..<n runs
    /// only those (outputs then cannot be asked for).
    /// - Returns: for each sequence, the ln_out rows at the selected positions.
    public func forward(
        _ sequences: [[Int]], states: inout [RWKVState],
        outputs selection: OutputSelection = .none, workspace: Workspace? = nil
    ) throws(RWKVError) -> [SequenceOutput] {
        guard states.count == sequences.count else {
            throw .stateMismatch("\(sequences.count) sequences but \(states.count) states")
        }
        let depth = try validate(sequences, states, selection)
        for i in states.indices { states[i].makeUnique() }
        let pointers = states.map { UnsafeMutablePointer($0.storage.pointer) }
        return withExtendedLifetime(states) {
            run(sequences, inputs: pointers.map { UnsafePointer($0) }, outputs: pointers, depth: depth,
                selection: selection, ws: workspace ?? makeWorkspace())
        }
    }

    /// One sequence from `state` (advanced in place).
    public func forward(
        _ tokens: [Int], state: inout RWKVState,
        outputs selection: OutputSelection = .none, workspace: Workspace? = nil
    ) throws(RWKVError) -> SequenceOutput {
        var states = [state]
        state = RWKVState(layerCount: 0, embeddingSize: width)  // drop the caller's reference: no copy
        defer { state = states[0] }
        return try forward([tokens], states: &states, outputs: selection, workspace: workspace)[0]
    }

    /// Runs each sequence on top of a source state without touching the sources (no state copies: the
    /// first step reads the source and writes a new state). Used for cached document states.
    public func forward(
        _ sequences: [[Int]], from sources: [RWKVState],
        outputs selection: OutputSelection = .none, workspace: Workspace? = nil
    ) throws(RWKVError) -> (outputs: [SequenceOutput], states: [RWKVState]) {
        guard sources.count == sequences.count else {
            throw .stateMismatch("\(sequences.count) sequences but \(sources.count) states")
        }
        let depth = try validate(sequences, sources, selection)
        let results = sources.map { RWKVState(uninitializedLayers: $0.layerCount, embeddingSize: width) }
        let outs = withExtendedLifetime((sources, results)) {
            run(sequences, inputs: sources.map { UnsafePointer($0.storage.pointer) },
                outputs: results.map { $0.storage.pointer }, depth: depth, selection: selection,
                ws: workspace ?? makeWorkspace())
        }
        return (outs, results)
    }

    /// Checks ids and state shapes; returns the number of layers to run.
    private func validate(_ sequences: [[Int]], _ states: [RWKVState], _ selection: OutputSelection) throws(RWKVError) -> Int {
        let vocabulary = embedding.count / width
        for seq in sequences {
            for id in seq where id < 0 || id >= vocabulary { throw .tokenOutOfRange(id: id, vocabularySize: vocabulary) }
        }
        guard let depth = states.first?.layerCount else { return layerCount }
        for s in states {
            guard s.embeddingSize == width else { throw .stateMismatch("state width \(s.embeddingSize), model \(width)") }
            guard s.layerCount == depth else { throw .stateMismatch("states of different depths in one batch") }
        }
        guard depth <= layerCount else { throw .stateMismatch("state has \(depth) layers, model \(layerCount)") }
        if selection != .none && depth != layerCount {
            throw .outputsNeedFullDepth(stateLayers: depth, modelLayers: layerCount)
        }
        return depth
    }

    /// The step loop: packs the next tokens of the sequences into at most `maxRows` rows, embeds them,
    /// runs the blocks, and collects the selected ln_out rows.
    func run(
        _ sequences: [[Int]], inputs: [UnsafePointer<Float>], outputs: [UnsafeMutablePointer<Float>],
        depth: Int, selection: OutputSelection, ws: Workspace
    ) -> [SequenceOutput] {
        let c = width
        var results = sequences.map { _ in SequenceOutput(width: c) }
        let stateCount = depth * RWKVState.layerStride(embeddingSize: c)
        let identity = Array(0..<max(depth, 1))
        ws.prepare(width: c, feedForward: stack.feedForward, rank: stack.maxRank)
        var cursor = [Int](repeating: 0, count: sequences.count)
        var next = 0
        embedding.withUnsafeBufferPointer { table in
            while next < sequences.count {
                // Pack a step.
                var step: [StepSequence] = [], owners: [(sequence: Int, start: Int)] = []
                var rows = 0
                while next < sequences.count && rows < ws.maxRows {
                    let s = next, seq = sequences[s]
                    let take = min(seq.count - cursor[s], ws.maxRows - rows)
                    if take == 0 {  // empty sequence: the new state is the old one
                        if UnsafePointer(outputs[s]) != inputs[s] { outputs[s].update(from: inputs[s], count: stateCount) }
                        next += 1
                        continue
                    }
                    let input = cursor[s] == 0 ? inputs[s] : UnsafePointer(outputs[s])
                    step.append(StepSequence(rows: rows..<rows + take, shiftIn: input, shiftOut: outputs[s],
                                             wkvIn: input, wkvOut: outputs[s]))
                    owners.append((s, cursor[s]))
                    for t in 0..<take {
                        (ws.x.p + (rows + t) * c).update(from: table.baseAddress! + seq[cursor[s] + t] * c, count: c)
                    }
                    rows += take
                    cursor[s] += take
                    if cursor[s] == seq.count { next += 1 }
                }
                guard rows > 0 else { break }
                stack.run(step, rowCount: rows, blockCount: depth, wkvInputLayer: identity, ws: ws)
                if selection != .none {
                    collect(step, owners, sequences, selection, ws, into: &results)
                }
            }
        }
        return results
    }

    private func collect(_ step: [StepSequence], _ owners: [(sequence: Int, start: Int)], _ sequences: [[Int]],
                         _ selection: OutputSelection, _ ws: Workspace, into results: inout [SequenceOutput]) {
        let c = width
        var row = [Float](repeating: 0, count: c)
        for (seq, owner) in zip(step, owners) {
            let tokens = sequences[owner.sequence]
            for r in seq.rows {
                let position = owner.start + (r - seq.rows.lowerBound)
                guard selection.selects(position: position, count: tokens.count, token: tokens[position]) else { continue }
                row.withUnsafeMutableBufferPointer { out in
                    layerNormRow(width: c, x: ws.x.p + r * c, weight: lnOutWeight.p, bias: lnOutBias.p, eps: 1e-5,
                                 out: out.baseAddress!)
                }
                results[owner.sequence].positions.append(position)
                results[owner.sequence].values.append(contentsOf: row)
            }
        }
    }
}
