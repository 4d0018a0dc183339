import Foundation

/// Reads a safetensors file: an 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets}, "__metadata__": {...}}`, then the tensor bytes.
/// The header is validated strictly: known dtypes, offsets in bounds, sizes matching shapes, no overlaps.
enum SafetensorsReader {
    static let maximumHeaderLength = 100 << 20

    /// A plausible header length followed by '{'.
    static func hasSafetensorsShape(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 9 else { return false }
        let length = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        return bytes[8] == UInt8(ascii: "{") && length >= 2 && length <= UInt64(maximumHeaderLength)
    }

    static func read(_ source: ByteSource) throws -> CheckpointContents {
        let reader = ByteReader(bytes: source.bytes)
        let headerLength = try reader.u64(0, "the safetensors header length")
        guard headerLength <= maximumHeaderLength else { throw CheckpointError.corruptSafetensorsHeader("a header of \(headerLength) bytes") }
        try reader.require(8, headerLength, "the safetensors header (\(headerLength) bytes announced)")
        let dataStart = 8 + headerLength
        let dataCount = source.count - dataStart
        let headerBytes = Data(UnsafeRawBufferPointer(rebasing: source.bytes[8..<dataStart]))

        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: headerBytes) } catch {
            throw CheckpointError.corruptSafetensorsHeader("the header is not valid JSON")
        }
        guard let header = parsed as? [String: Any] else { throw CheckpointError.corruptSafetensorsHeader("the header is not a JSON object") }

        var metadata: [String: String] = [:]
        if let rawMetadata = header["__metadata__"] {
            guard let strings = rawMetadata as? [String: Any] else { throw CheckpointError.corruptSafetensorsHeader("__metadata__ is not an object") }
            for (key, value) in strings {
                guard let text = value as? String else { throw CheckpointError.corruptSafetensorsHeader("__metadata__.\(key) is not a string") }
                metadata[key] = text
            }
        }

        var located: [(view: TensorView, range: Range<Int>)] = []
        for (name, rawEntry) in header where name != "__metadata__" {
            guard let entry = rawEntry as? [String: Any],
                  let dtypeName = entry["dtype"] as? String,
                  let shapeValues = entry["shape"] as? [Any],
                  let offsetValues = entry["data_offsets"] as? [Any], offsetValues.count == 2 else {
                throw CheckpointError.corruptSafetensorsHeader("entry \(name) lacks dtype, shape or data_offsets")
            }
            guard let dtype = TensorDType(safetensorsName: dtypeName) else {
                throw CheckpointError.unsupportedDType(tensor: name, dtype: dtypeName)
            }
            let shape = try shapeValues.map { try nonNegativeInteger($0, "a dimension of \(name)") }
            let begin = try nonNegativeInteger(offsetValues[0], "the data offsets of \(name)")
            let end = try nonNegativeInteger(offsetValues[1], "the data offsets of \(name)")
            guard begin <= end, end <= dataCount else {
                throw CheckpointError.tensorOutOfBounds(tensor: name, detail: "data_offsets [\(begin), \(end)] outside the \(dataCount) data bytes")
            }
            let count = try checkedProduct(shape, "the element count of \(name)")
            let expected = try checkedMultiply(count, dtype.byteSize, "the size of \(name)")
            guard expected == end - begin else {
                throw CheckpointError.corruptSafetensorsHeader("\(name): shape \(shape) of \(dtypeName) needs \(expected) bytes, data_offsets span \(end - begin)")
            }
            guard shape.count <= 16 else { throw CheckpointError.corruptSafetensorsHeader("\(name) has \(shape.count) dimensions") }
            var strides = [Int](repeating: 1, count: shape.count)
            var running = 1  // wrapping: only a zero-size tensor could overflow here, and it reads nothing
            for axis in (0..<shape.count).reversed() { strides[axis] = running; running = running &* max(shape[axis], 1) }
            let range = (dataStart + begin)..<(dataStart + end)
            let view = try TensorView(name: name, dtype: dtype, shape: shape, strides: strides, storageOffset: 0, storage: range)
            located.append((view, range))
        }

        // Tensors must not share bytes: sort by start and compare neighbours.
        located.sort { ($0.range.lowerBound, $0.range.upperBound, $0.view.name) < ($1.range.lowerBound, $1.range.upperBound, $1.view.name) }
        for (previous, next) in zip(located, located.dropFirst()) where previous.range.upperBound > next.range.lowerBound && !next.range.isEmpty {
            throw CheckpointError.corruptSafetensorsHeader("tensors \(previous.view.name) and \(next.view.name) overlap")
        }

        var tensors: [TensorView] = []
        var layerIndices: [Int]? = nil
        for (view, _) in located {
            if view.name == "reranker_layer_idx" { layerIndices = try view.integers(from: source) } else { tensors.append(view) }
        }
        if let text = metadata["reranker_layer_idx"] { layerIndices = try parseLayerIndexList(text) }
        return CheckpointContents(format: .safetensors, source: source, tensors: tensors, rerankerLayerIndices: layerIndices, notes: [], metadata: metadata)
    }

    private static func nonNegativeInteger(_ value: Any, _ what: String) throws -> Int {
        guard let number = value as? NSNumber else { throw CheckpointError.corruptSafetensorsHeader("\(what) is not an integer") }
        let double = number.doubleValue
        guard double >= 0, double < 9.0e18, double == double.rounded(), let integer = Int(exactly: double) else {
            throw CheckpointError.corruptSafetensorsHeader("\(what) is not a non-negative integer")
        }
        // Above 2^53 a double loses digits; use the integer value when Foundation kept one.
        let exact = number.int64Value
        return exact >= 0 && Double(exact) == double ? Int(exact) : integer
    }
}
