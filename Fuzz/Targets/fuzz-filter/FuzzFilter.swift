import Foundation
import RWKVRetrieval

/// Any bytes as a metadata filter (`--where`, the HTTP `filter` field): the parser accepts them or
/// throws a `FilterError`, never traps; an accepted filter selects in SQLite (`list(where:)`, the SQL
/// the search runs) exactly the documents that `MetadataFilter.matches` selects.
let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/tiny-bf16")

let metadata: [String?] = [
    nil, #"{}"#, #"{"tag": "a", "n": 3}"#, #"{"tag": "b", "n": 40, "tags": ["x", "y"]}"#,
    #"{"n": -2.5, "nested": {"x": 0.25, "deep": {"k": "v"}}}"#, #"{"tag": null, "opt": true, "date": "2024-03-01T00:00:00Z"}"#,
    #"{"tags": [], "n": 1e300, "s": "ünïcode ✓"}"#, #"{"tag": "a", "tags": ["a", 1, null, {"k": 2}], "opt": false}"#,
    #"{"n": "12", "date": "2023-12-31", "a.b": 1}"#, #"{"n": 0, "nested": [1, 2, 3]}"#,
]

let collection: DocumentCollection = {
    do {
        let models = try RetrievalModels.load(embedding: fixture.appendingPathComponent("embedding.pth"),
                                              reranker: fixture.appendingPathComponent("reranker.pth"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-filter-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        let c = try DocumentCollection.create(at: dir, models: models)
        let docs = metadata.enumerated().map { Document(id: "d\($0.offset)", text: "document \($0.offset)", metadata: $0.element) }
        try c.add(docs, embeddings: docs.map { _ in [Float](repeating: 1, count: c.dimension) })
        return c
    } catch {
        fatalError("cannot build the fuzz collection: \(error)")
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFilter(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    guard let text = String(validating: UnsafeBufferPointer(start: start, count: count), as: UTF8.self) else { return 0 }
    let filter: MetadataFilter
    do { filter = try MetadataFilter.parse(json: text) } catch is FilterError { return 0 } catch {
        fatalError("the filter parser threw an untyped error: \(error)")
    }
    let expected = metadata.enumerated().filter { filter.matches(metadataJSON: $0.element) }.map { "d\($0.offset)" }
    let selected: [String]
    do { selected = try collection.list(where: filter).map(\.id) } catch {
        fatalError("SQLite refused the accepted filter \(text): \(error)")
    }
    if selected != expected.sorted() {
        fatalError("filter \(text): SQLite selects \(selected), MetadataFilter.matches \(expected.sorted())")
    }
    return 0
}

/// Builds the collection before the first input: loading the model under ASan takes seconds (11 s on
/// a loaded 2-core machine), which libFuzzer would otherwise count against the first input's timeout.
@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    _ = collection
    return 0
}
