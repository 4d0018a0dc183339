/// A minimal, checked reader of the zip container that `torch.save` writes: entries must be
/// stored (uncompressed); ZIP64 end records and extra fields are understood so that checkpoints
/// over 4 GB work. Entries are located, never copied: `entries[name]` is a byte range of the file.
struct ZipArchive {
    /// The data of each entry: absolute byte ranges in the archive.
    private(set) var entries: [String: Range<Int>] = [:]
    /// Entry names in central-directory order.
    private(set) var names: [String] = []

    private static let endOfCentralDirectory = 0x0605_4b50
    private static let zip64EndLocator = 0x0706_4b50
    private static let zip64EndRecord = 0x0606_4b50
    private static let centralHeader = 0x0201_4b50
    private static let localHeader = 0x0403_4b50
    /// Names, comments and extra fields are short in torch archives; entry counts are bounded by the directory size.
    private static let maximumNameLength = 4096

    static func hasZipMagic(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4b && bytes[2] == 0x03 && bytes[3] == 0x04
    }

    init(_ bytes: UnsafeRawBufferPointer) throws {
        let reader = ByteReader(bytes: bytes)
        let end = try Self.findEndOfCentralDirectory(reader)
        var entryCount = try reader.u16(end + 10, "the zip end record")
        var directorySize = try reader.u32(end + 12, "the zip end record")
        var directoryOffset = try reader.u32(end + 16, "the zip end record")

        if entryCount == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // ZIP64: the locator sits just before the classic end record and points at the real one.
            let locator = end - 20
            guard locator >= 0, try reader.u32(locator, "the ZIP64 locator") == Self.zip64EndLocator else {
                throw CheckpointError.corruptZip("the end record asks for ZIP64 but there is no ZIP64 locator")
            }
            let record = try reader.u64(locator + 8, "the ZIP64 locator")
            guard try reader.u32(record, "the ZIP64 end record") == Self.zip64EndRecord else {
                throw CheckpointError.corruptZip("the ZIP64 locator points at byte \(record), which is no ZIP64 end record")
            }
            entryCount = try reader.u64(record + 32, "the ZIP64 end record")
            directorySize = try reader.u64(record + 40, "the ZIP64 end record")
            directoryOffset = try reader.u64(record + 48, "the ZIP64 end record")
        }
        let directoryEnd = try checkedAdd(directoryOffset, directorySize, "the zip central directory end")
        guard directoryEnd <= bytes.count else { throw CheckpointError.truncated(what: "the zip central directory") }
        guard entryCount <= directorySize / 46 else {
            throw CheckpointError.corruptZip("\(entryCount) entries cannot fit a central directory of \(directorySize) bytes")
        }

        var position = directoryOffset
        entries.reserveCapacity(entryCount)
        for _ in 0..<entryCount {
            guard position <= directoryEnd - 46 else {
                throw CheckpointError.corruptZip("the central directory is shorter than its \(entryCount) entries")
            }
            guard try reader.u32(position, "the zip central directory") == Self.centralHeader else {
                throw CheckpointError.corruptZip("bad central directory entry signature at byte \(position)")
            }
            let flags = try reader.u16(position + 8, "the zip central directory")
            let method = try reader.u16(position + 10, "the zip central directory")
            var compressedSize = try reader.u32(position + 20, "the zip central directory")
            var size = try reader.u32(position + 24, "the zip central directory")
            let nameLength = try reader.u16(position + 28, "the zip central directory")
            let extraLength = try reader.u16(position + 30, "the zip central directory")
            let commentLength = try reader.u16(position + 32, "the zip central directory")
            var localOffset = try reader.u32(position + 42, "the zip central directory")
            guard nameLength <= Self.maximumNameLength else { throw CheckpointError.corruptZip("an entry name of \(nameLength) bytes") }
            let name = try reader.string(position + 46, nameLength, "the zip central directory")

            // ZIP64 extra field: the 64-bit values for exactly the fields saturated above, in this order.
            var extra = position + 46 + nameLength
            let extraEnd = extra + extraLength
            try reader.require(extra, extraLength, "the zip central directory")
            while extra + 4 <= extraEnd {
                let tag = try reader.u16(extra, "a zip extra field")
                let length = try reader.u16(extra + 2, "a zip extra field")
                guard extra + 4 + length <= extraEnd else { throw CheckpointError.corruptZip("an extra field of \(name) overruns its entry") }
                if tag == 0x0001 {
                    var field = extra + 4
                    let fieldEnd = field + length
                    func next() throws -> Int {
                        guard field + 8 <= fieldEnd else { throw CheckpointError.corruptZip("short ZIP64 extra field in \(name)") }
                        defer { field += 8 }
                        return try reader.u64(field, "a ZIP64 extra field")
                    }
                    if size == 0xFFFF_FFFF { size = try next() }
                    if compressedSize == 0xFFFF_FFFF { compressedSize = try next() }
                    if localOffset == 0xFFFF_FFFF { localOffset = try next() }
                }
                extra += 4 + length
            }
            position = extraEnd + commentLength

            guard flags & 1 == 0 else { throw CheckpointError.encryptedEntry(name: name) }
            guard method == 0 else { throw CheckpointError.compressedEntry(name: name, method: method) }
            guard compressedSize == size else {
                throw CheckpointError.corruptZip("stored entry \(name) has different compressed (\(compressedSize)) and plain (\(size)) sizes")
            }
            guard try reader.u32(localOffset, "a zip local header") == Self.localHeader else {
                throw CheckpointError.corruptZip("entry \(name) points at byte \(localOffset), which is no local header")
            }
            let localNameLength = try reader.u16(localOffset + 26, "a zip local header")
            let localExtraLength = try reader.u16(localOffset + 28, "a zip local header")
            let dataStart = localOffset + 30 + localNameLength + localExtraLength
            let dataEnd = try checkedAdd(dataStart, size, "the end of entry \(name)")
            guard dataEnd <= bytes.count else { throw CheckpointError.truncated(what: "the zip entry \(name)") }
            if entries.updateValue(dataStart..<dataEnd, forKey: name) == nil { names.append(name) }
        }
        guard position <= directoryEnd else { throw CheckpointError.corruptZip("the central directory overruns its stated size") }
    }

    /// The end record is the last 22 bytes unless the archive has a comment (up to 64 KiB): scan backwards.
    private static func findEndOfCentralDirectory(_ reader: ByteReader) throws -> Int {
        let count = reader.bytes.count
        guard count >= 22 else { throw CheckpointError.truncated(what: "the zip end record") }
        let lowest = max(0, count - 22 - 0xFFFF)
        var candidate = count - 22
        while candidate >= lowest {
            if try reader.u32(candidate, "the zip end record") == endOfCentralDirectory,
               try candidate + 22 + reader.u16(candidate + 20, "the zip end record") == count {
                return candidate
            }
            candidate -= 1
        }
        throw CheckpointError.corruptZip("no end-of-central-directory record (the file is truncated or not a zip)")
    }
}
