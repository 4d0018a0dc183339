import Foundation
@testable import RWKVCheckpoint
import RWKVTestSupport

/// Writes a zip of stored entries (CRCs left 0: the loader does not check them), optionally with
/// ZIP64 end records and extra fields, to test the reader independently of torch's writer.
func makeZip(_ entries: [(name: String, bytes: [UInt8])], zip64: Bool = false, method: UInt16 = 0) -> Data {
    var out = [UInt8]()
    func u16(_ v: Int) { out += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
    func u32(_ v: Int) { for i in 0..<4 { out.append(UInt8((v >> (8 * i)) & 0xFF)) } }
    func u64(_ v: Int) { for i in 0..<8 { out.append(UInt8((v >> (8 * i)) & 0xFF)) } }
    var offsets: [Int] = []
    for entry in entries {
        offsets.append(out.count)
        u32(0x0403_4b50); u16(45); u16(0); u16(Int(method)); u16(0); u16(0); u32(0)
        u32(entry.bytes.count); u32(entry.bytes.count)
        u16(entry.name.utf8.count); u16(0)
        out += Array(entry.name.utf8)
        out += entry.bytes
    }
    let directoryStart = out.count
    for (entry, offset) in zip(entries, offsets) {
        u32(0x0201_4b50); u16(45); u16(45); u16(0); u16(Int(method)); u16(0); u16(0); u32(0)
        u32(zip64 ? 0xFFFF_FFFF : entry.bytes.count); u32(zip64 ? 0xFFFF_FFFF : entry.bytes.count)
        u16(entry.name.utf8.count); u16(zip64 ? 28 : 0); u16(0); u16(0); u16(0); u32(0)
        u32(zip64 ? 0xFFFF_FFFF : offset)
        out += Array(entry.name.utf8)
        if zip64 { u16(1); u16(24); u64(entry.bytes.count); u64(entry.bytes.count); u64(offset) }
    }
    let directorySize = out.count - directoryStart
    if zip64 {
        let record = out.count
        u32(0x0606_4b50); u64(44); u16(45); u16(45); u32(0); u32(0)
        u64(entries.count); u64(entries.count); u64(directorySize); u64(directoryStart)
        u32(0x0706_4b50); u32(0); u64(record); u32(1)
        u32(0x0605_4b50); u16(0); u16(0); u16(0xFFFF); u16(0xFFFF); u32(0xFFFF_FFFF); u32(0xFFFF_FFFF); u16(0)
    } else {
        u32(0x0605_4b50); u16(0); u16(0); u16(entries.count); u16(entries.count); u32(directorySize); u32(directoryStart); u16(0)
    }
    return Data(out)
}

/// The entries of a stored zip, read with the loader's own zip reader.
func zipEntries(_ data: Data) throws -> [(name: String, bytes: [UInt8])] {
    try data.withUnsafeBytes { bytes in
        let archive = try ZipArchive(bytes)
        return archive.names.map { name in (name, Array(bytes[archive.entries[name]!])) }
    }
}

/// Compares two sets of weights tensor by tensor (names, shapes and values, bit for bit).
func sameTensors(_ a: [NamedTensor], _ b: [NamedTensor]) -> Bool {
    guard a.count == b.count else { return false }
    for (x, y) in zip(a, b) {
        guard x.name == y.name, x.shape == y.shape, x.values.map(\.bitPattern) == y.values.map(\.bitPattern) else { return false }
    }
    return true
}

/// A `.pth` written from scratch (pickle program and storages), independent of the fixtures:
/// each tensor is (key, storage key, shape, strides, storage offset) over bf16 storages.
func makePth(tensors: [(key: String, storage: String, shape: [Int], strides: [Int], offset: Int)], storages: [String: [UInt8]]) -> Data {
    var pickle: [UInt8] = [0x80, 0x02, 0x7d, 0x28]
    func string(_ text: String) { pickle.append(0x58); let bytes = Array(text.utf8); withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { pickle += $0 }; pickle += bytes }
    func int(_ value: Int) { pickle.append(0x4a); withUnsafeBytes(of: Int32(value).littleEndian) { pickle += $0 } }
    func tuple(_ values: [Int]) { pickle.append(0x28); values.forEach(int); pickle.append(0x74) }
    for tensor in tensors {
        string(tensor.key)
        pickle += Array("ctorch._utils\n_rebuild_tensor_v2\n".utf8) + [0x28, 0x28]
        string("storage"); pickle += Array("ctorch\nBFloat16Storage\n".utf8); string(tensor.storage); string("cpu")
        int((storages[tensor.storage]?.count ?? 0) / 2)
        pickle += [0x74, 0x51]
        int(tensor.offset); tuple(tensor.shape); tuple(tensor.strides)
        pickle += [0x89] + Array("ccollections\nOrderedDict\n".utf8) + [0x29, 0x52, 0x74, 0x52]
    }
    pickle += [0x75, 0x2e]
    var entries: [(name: String, bytes: [UInt8])] = [("archive/data.pkl", pickle), ("archive/byteorder", Array("little".utf8))]
    for (key, bytes) in storages.sorted(by: { $0.key < $1.key }) { entries.append(("archive/data/\(key)", bytes)) }
    return makeZip(entries)
}
