import Foundation
import RWKVSupport

/// Writes a safetensors file: 8-byte little-endian header length, JSON header (padded with spaces
/// to a multiple of 8 so the data is aligned), then each tensor's bytes in the order added.
/// Tensor bytes are produced one tensor at a time while writing, so a large model is never
/// held twice in memory.
public struct SafetensorsWriter {
    private struct Entry {
        var name: String
        var dtype: TensorDType
        var shape: [Int]
        var byteCount: Int
        var bytes: () throws -> [UInt8]
    }

    private var entries: [Entry] = []
    private var names = Set<String>()
    /// `__metadata__` (string to string), e.g. `reranker_layer_idx: "[1, 3]"`.
    public var metadata: [String: String]

    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    /// Adds a tensor whose little-endian bytes `bytes` produces when the file is written.
    public mutating func add(_ name: String, dtype: TensorDType, shape: [Int], bytes: @escaping () throws -> [UInt8]) throws {
        guard name != "__metadata__", names.insert(name).inserted else {
            throw CheckpointError.corruptSafetensorsHeader("tensor name \(name) is reserved or already used")
        }
        let count = try checkedProduct(shape, "the size of \(name)")
        entries.append(Entry(name: name, dtype: dtype, shape: shape, byteCount: try checkedMultiply(count, dtype.byteSize, name), bytes: bytes))
    }

    /// Adds fp32 values, stored as `dtype` (rounded to nearest even for f16/bf16).
    public mutating func add(_ name: String, shape: [Int], values: [Float], as dtype: TensorDType) throws {
        guard values.count == shape.reduce(1, *) else {
            throw CheckpointError.wrongShape(key: name, expected: shape, found: [values.count])
        }
        guard dtype.isFloatingPoint else { throw CheckpointError.unsupportedDType(tensor: name, dtype: dtype.rawValue) }
        try add(name, dtype: dtype, shape: shape) { FloatConversion.encode(values, as: dtype) }
    }

    /// The JSON header, entries in the order added.
    func header() -> [UInt8] {
        var parts: [String] = []
        if !metadata.isEmpty {
            let fields = metadata.keys.sorted().map { "\(jsonStringLiteral($0)):\(jsonStringLiteral(metadata[$0] ?? ""))" }
            parts.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
        }
        var offset = 0
        for entry in entries {
            let shape = entry.shape.map(String.init).joined(separator: ",")
            parts.append("\(jsonStringLiteral(entry.name)):{\"dtype\":\"\(entry.dtype.safetensorsName)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + entry.byteCount)]}")
            offset += entry.byteCount
        }
        var bytes = Array("{\(parts.joined(separator: ","))}".utf8)
        while (8 + bytes.count) % 8 != 0 { bytes.append(0x20) }
        return bytes
    }

    public func write(to url: URL) throws {
        let path = url.path
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw CheckpointError.writeFailed(path: path, reason: "cannot create the file")
        }
        defer { try? handle.close() }
        do {
            let header = header()
            var length = UInt64(header.count).littleEndian
            try handle.write(contentsOf: Data(bytes: &length, count: 8))
            try handle.write(contentsOf: header)
            for entry in entries {
                let bytes = try entry.bytes()
                guard bytes.count == entry.byteCount else {
                    throw CheckpointError.writeFailed(path: path, reason: "tensor \(entry.name) produced \(bytes.count) bytes, expected \(entry.byteCount)")
                }
                try handle.write(contentsOf: bytes)
            }
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw CheckpointError.writeFailed(path: path, reason: error.localizedDescription)
        }
    }
}
