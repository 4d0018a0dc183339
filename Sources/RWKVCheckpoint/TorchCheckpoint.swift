/// Reads a `torch.save` state dict: the zip archive, its whitelisted `data.pkl`, and the
/// storages under `<name>/data/<key>`, which the tensors view in place.
enum TorchCheckpoint {
    static func read(_ source: ByteSource) throws -> CheckpointContents {
        let archive = try ZipArchive(source.bytes)
        // The archive's single top folder is the name torch gave it (`archive/`, or the file's stem).
        let pickleNames = archive.names.filter { $0.hasSuffix("/data.pkl") && $0.split(separator: "/", omittingEmptySubsequences: false).count == 2 }
        guard pickleNames.count == 1, let pickleName = pickleNames.first, let pickleRange = archive.entries[pickleName] else {
            throw pickleNames.isEmpty
                ? CheckpointError.missingEntry(name: "<name>/data.pkl")
                : CheckpointError.corruptZip("\(pickleNames.count) data.pkl entries")
        }
        let prefix = String(pickleName.dropLast("data.pkl".count))
        if let orderRange = archive.entries[prefix + "byteorder"] {
            let order = String(decoding: UnsafeRawBufferPointer(rebasing: source.bytes[orderRange]), as: UTF8.self)
            guard order == "little" else { throw CheckpointError.unsupportedByteOrder(String(order.prefix(16))) }
        }

        let (root, arena) = try PickleMachine.run(UnsafeRawBufferPointer(rebasing: source.bytes[pickleRange]))
        guard case let .dict(stateDict) = root else {
            throw CheckpointError.malformedPickle("the checkpoint holds a \(root.kindName), not a state dict")
        }

        var tensors: [TensorView] = []
        var layerIndices: [Int]? = nil
        var notes: [String] = []
        var seen = Set<String>()
        var viewedBytes = 0
        for (key, value) in arena.dicts[stateDict] {
            guard seen.insert(key).inserted else { throw CheckpointError.malformedPickle("key \(key) appears twice") }
            switch value {
            case let .tensor(reference):
                let entryName = prefix + "data/" + reference.storage.key
                guard let storageRange = archive.entries[entryName] else { throw CheckpointError.missingEntry(name: entryName) }
                let storageBytes = try checkedMultiply(reference.storage.elementCount, reference.storage.dtype.byteSize, "the size of storage \(reference.storage.key)")
                guard storageBytes <= storageRange.count else {
                    throw CheckpointError.tensorOutOfBounds(
                        tensor: key, detail: "its storage \(reference.storage.key) should hold \(storageBytes) bytes, the archive entry has \(storageRange.count)")
                }
                let view = try TensorView(
                    name: key, dtype: reference.storage.dtype, shape: reference.shape, strides: reference.strides,
                    storageOffset: reference.storageOffset, storage: storageRange.lowerBound..<(storageRange.lowerBound + storageBytes))
                // Views may share storages, but their data may not add up to more than the file:
                // that bounds what a load can allocate by the file's size.
                viewedBytes = try checkedAdd(viewedBytes, view.byteCount, "the total tensor size")
                guard viewedBytes <= source.count else {
                    throw CheckpointError.tensorOutOfBounds(tensor: key, detail: "the tensors so far view \(viewedBytes) bytes, more than the whole file (\(source.count)); storages are reused too often")
                }
                if key == "reranker_layer_idx" {
                    layerIndices = try view.integers(from: source)
                } else {
                    tensors.append(view)
                }
            case let .list(list) where key == "reranker_layer_idx":
                layerIndices = try arena.lists[list].map { item in
                    guard case let .int(index) = item else { throw CheckpointError.invalidLayerIndices("the list holds a \(item.kindName)") }
                    return index
                }
            case let .tuple(tuple) where key == "reranker_layer_idx":
                layerIndices = try arena.tuples[tuple].map { item in
                    guard case let .int(index) = item else { throw CheckpointError.invalidLayerIndices("the tuple holds a \(item.kindName)") }
                    return index
                }
            default:
                notes.append("skipped \(key): a \(value.kindName), not a tensor")
            }
        }
        return CheckpointContents(format: .pytorch, source: source, tensors: tensors, rerankerLayerIndices: layerIndices, notes: notes, metadata: [:])
    }
}
