import Foundation
import RWKVRetrieval

/// A collection opened after arbitrary corruption of its files: the input is a list of edits
/// (6 bytes each: file, u32 offset, xor; a file selector with the top bit set truncates that file at
/// the offset instead) applied to a copy of a small collection (its database and both segments).
/// Opening, the dense scan, BM25 search, listing and `verify` then either work or throw a
/// `RetrievalError`: never a trap, and never a cosine that differs from the intact collection's for
/// the same passage (the damaged rows are left out).
let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/tiny-bf16")
let work = URL(fileURLWithPath: FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory())
    .appendingPathComponent("fuzz-collection-\(getpid())")
let files = ["collection.sqlite", "segments/000001.emb", "segments/000001.states"]

struct Pristine {
    var bytes: [[UInt8]]
    var query: [Float]
    var scores: [String: Float]   // "document#passage" -> cosine
}

let pristine: Pristine = {
    do {
        let models = try RetrievalModels.load(embedding: fixture.appendingPathComponent("embedding.pth"),
                                              reranker: fixture.appendingPathComponent("reranker.pth"))
        let dir = work.appendingPathComponent("pristine")
        try? FileManager.default.removeItem(at: dir)
        var bytes: [[UInt8]] = []
        var query: [Float] = []
        var scores: [String: Float] = [:]
        do {
            let c = try DocumentCollection.create(at: dir, models: models)
            let words = ["rivers", "planets", "bananas", "networks", "mountains", "coffee"]
            try c.add((0..<12).map { Document(id: "d\($0)", text: "Document \($0) about \(words[$0 % words.count]) and \(words[($0 * 5) % words.count]).",
                                             metadata: #"{"n": \#($0)}"#) })
            query = c.embedding(id: "d0")!
            for (id, passage, score) in try c.nearest(to: query, k: 100, group: false) { scores["\(id)#\(passage)"] = score }
        }
        for f in files { bytes.append(try readFile(dir.appendingPathComponent(f).path)) }
        return Pristine(bytes: bytes, query: query, scores: scores)
    } catch {
        fatalError("cannot build the fuzz collection: \(error)")
    }
}()

struct FileError: Error { var path: String }

/// Plain POSIX reads and writes (Foundation's `Data(contentsOf:)` buffers show up in LeakSanitizer's report).
func readFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw FileError(path: path) }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        if n <= 0 { break }
        out += chunk[0..<n]
    }
    return out
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw FileError(path: path) }
    defer { close(fd) }
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
        if n <= 0 { throw FileError(path: path) }
        done += n
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCollection(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    var contents = pristine.bytes
    var i = 0
    while i + 6 <= count {
        let selector = start[i]
        let offset = Int(start[i + 1]) | Int(start[i + 2]) << 8 | Int(start[i + 3]) << 16 | Int(start[i + 4]) << 24
        let f = Int(selector & 0x7f) % files.count
        if !contents[f].isEmpty {
            let at = offset % contents[f].count
            if selector & 0x80 != 0 { contents[f] = Array(contents[f].prefix(at)) } else { contents[f][at] ^= start[i + 5] == 0 ? 0xff : start[i + 5] }
        }
        i += 6
    }
    let dir = work.appendingPathComponent("case")
    try? FileManager.default.removeItem(at: dir)
    do {
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("segments"), withIntermediateDirectories: true)
        for (f, data) in zip(files, contents) { try writeFile(dir.appendingPathComponent(f).path, data) }
    } catch {
        fatalError("cannot write the case: \(error)")
    }
    do {
        _ = try DocumentCollection.verify(at: dir)
        let c = try DocumentCollection.open(at: dir, models: nil)
        for (id, passage, score) in try c.nearest(to: pristine.query, k: 100, group: false) {
            if let expected = pristine.scores["\(id)#\(passage)"], abs(expected - score) > 1e-4 {
                fatalError("\(id)#\(passage): cosine \(score) after corruption, \(expected) before")
            }
        }
        _ = try c.search("rivers networks", options: .init(topK: 5, rerank: false, mode: .lexical))
        _ = try c.list(where: try MetadataFilter.parse(json: #"{"n": {"$gte": 3}}"#))
        _ = c.stats()
    } catch is RetrievalError {
    } catch {
        fatalError("an untyped error: \(error)")
    }
    return 0
}

/// Builds the intact collection before the first input (loading the model under ASan takes seconds,
/// which libFuzzer would otherwise count against the first input's timeout).
@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    _ = pristine
    return 0
}
