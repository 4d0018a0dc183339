/// One tensor of a checkpoint, located but not read: a strided view (in elements) of bytes
/// inside the checkpoint's `ByteSource`. Bounds are checked when the view is made.
struct TensorView {
    var name: String
    var dtype: TensorDType
    var shape: [Int]
    /// Element strides; row-major contiguous for safetensors.
    var strides: [Int]
    /// Absolute byte offset of element [0, 0, ...].
    var byteOffset: Int
    var elementCount: Int

    /// Checks that every element the view can address lies inside `storage` (absolute byte range).
    init(name: String, dtype: TensorDType, shape: [Int], strides: [Int], storageOffset: Int, storage: Range<Int>) throws {
        guard shape.count == strides.count, shape.count <= 16 else {
            throw CheckpointError.tensorOutOfBounds(tensor: name, detail: "\(shape.count) dimensions and \(strides.count) strides")
        }
        let count = try checkedProduct(shape, "the element count of \(name)")
        var lastElement = storageOffset  // the highest element index the view touches
        if count > 0 {
            for (size, stride) in zip(shape, strides) {
                lastElement = try checkedAdd(lastElement, try checkedMultiply(size - 1, stride, name), name)
            }
        }
        let storageElements = storage.count / dtype.byteSize
        // Checkpoints never hold broadcast (stride 0) views: more elements than the storage would
        // let a tiny file demand any amount of memory.
        if count > storageElements {
            throw CheckpointError.tensorOutOfBounds(tensor: name, detail: "shape \(shape) has \(count) elements, its storage only \(storageElements)")
        }
        if count > 0 && lastElement >= storageElements {
            throw CheckpointError.tensorOutOfBounds(
                tensor: name, detail: "shape \(shape) strides \(strides) from element \(storageOffset) needs element \(lastElement), the storage has \(storageElements)")
        }
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.strides = strides
        self.byteOffset = try checkedAdd(storage.lowerBound, try checkedMultiply(storageOffset, dtype.byteSize, name), name)
        self.elementCount = count
    }

    var byteCount: Int { elementCount * dtype.byteSize }

    var isContiguous: Bool {
        var expected = 1
        for (size, stride) in zip(shape, strides).reversed() where size != 1 {
            if stride != expected { return false }
            expected *= size
        }
        return true
    }

    /// The element offsets (in elements from `byteOffset`) in row-major order; `body` gets runs of contiguous elements.
    func forEachContiguousRun(_ body: (_ elementOffset: Int, _ destinationIndex: Int, _ count: Int) throws -> Void) rethrows {
        if elementCount == 0 { return }
        if isContiguous { return try body(0, 0, elementCount) }
        // Iterate over all but the last dimension; the last one is a run only when its stride is 1.
        let rank = shape.count
        let innerCount = shape[rank - 1]
        let innerStride = strides[rank - 1]
        var index = [Int](repeating: 0, count: rank - 1)
        var destination = 0
        while destination < elementCount {
            var base = 0
            for axis in 0..<(rank - 1) { base += index[axis] * strides[axis] }
            if innerStride == 1 {
                try body(base, destination, innerCount)
            } else {
                for element in 0..<innerCount { try body(base + element * innerStride, destination + element, 1) }
            }
            destination += innerCount
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < shape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
    }

    /// The tensor's values as fp32, row-major, read in place from `source`. NaN or infinity is an error naming the tensor.
    /// Pages of the mapped file are released as they are consumed, so the file and the result are not both resident.
    func floats(from source: ByteSource) throws -> [Float] {
        guard dtype.isFloatingPoint else { throw CheckpointError.unsupportedDType(tensor: name, dtype: dtype.rawValue) }
        guard let base = source.bytes.baseAddress else { return [] }
        var firstNonFinite: Int? = nil
        let result = [Float](unsafeUninitializedCapacity: elementCount) { buffer, initialized in
            guard let out = buffer.baseAddress else { initialized = 0; return }
            forEachContiguousRun { offset, destination, count in
                // Chunks keep the released window small for big tensors.
                var done = 0
                while done < count {
                    let chunk = min(count - done, 1 << 20)
                    let start = byteOffset + (offset + done) * dtype.byteSize
                    let finite = FloatConversion.convert(dtype, from: base + start, count: chunk, to: out + destination + done)
                    if !finite && firstNonFinite == nil {
                        firstNonFinite = FloatConversion.firstNonFinite(in: out + destination + done, count: chunk).map { destination + done + $0 }
                    }
                    if isContiguous { source.releasePages(start..<(start + chunk * dtype.byteSize)) }
                    done += chunk
                }
            }
            initialized = elementCount
        }
        if let index = firstNonFinite { throw CheckpointError.nonFiniteValue(tensor: name, index: index) }
        return result
    }

    /// An int64 tensor's values (only for small tensors such as `reranker_layer_idx`).
    func integers(from source: ByteSource, limit: Int = 4096) throws -> [Int] {
        guard dtype == .int64 else { throw CheckpointError.unsupportedDType(tensor: name, dtype: dtype.rawValue) }
        guard elementCount <= limit else { throw CheckpointError.tensorOutOfBounds(tensor: name, detail: "\(elementCount) integers") }
        var values = [Int](repeating: 0, count: elementCount)
        forEachContiguousRun { offset, destination, count in
            for element in 0..<count {
                let raw = source.bytes.loadUnaligned(fromByteOffset: byteOffset + (offset + element) * 8, as: Int64.self)
                values[destination + element] = Int(Int64(littleEndian: raw))
            }
        }
        return values
    }

    /// The raw bytes in row-major order (for conversion to safetensors without changing dtype).
    func contiguousBytes(from source: ByteSource) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: byteCount)
        let size = dtype.byteSize
        bytes.withUnsafeMutableBytes { out in
            forEachContiguousRun { offset, destination, count in
                let from = UnsafeRawBufferPointer(rebasing: source.bytes[(byteOffset + offset * size)..<(byteOffset + (offset + count) * size)])
                UnsafeMutableRawBufferPointer(rebasing: out[(destination * size)..<((destination + count) * size)]).copyMemory(from: from)
            }
        }
        return bytes
    }
}
