import Foundation
import Testing
import EmbeddingRWKV
@testable import RWKVRetrieval
import RWKVTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Faults on the store (issue 16): bit rot in every file, a full disk, kill -9 during delete and
/// migration. Real files, real processes.
@Suite(.serialized) struct FaultTests {
    static let queries = ["What is the capital of France?", "How do plants make energy?"]

    /// Every hit's scores per query, keyed by "document#ordinal".
    typealias Baseline = [String: [String: (embedding: Float?, rerank: Float?)]]

    static func scores(_ c: DocumentCollection) throws -> Baseline {
        var out: Baseline = [:]
        for q in queries {
            let r = try c.search(q, options: .init(topK: 100, candidates: 100, group: false))
            out[q] = Dictionary(uniqueKeysWithValues: r.hits.map { ("\($0.id)#\($0.passage)", ($0.embeddingScore, $0.rerank?.logit)) })
        }
        return out
    }

    static func flip(_ file: URL, bytes: Int, within range: Range<Int>? = nil, rng: inout StoreTests.Rng) throws -> [Int] {
        var data = try Data(contentsOf: file)
        guard !data.isEmpty else { return [] }
        let r = range ?? 0..<data.count
        let offsets = (0..<bytes).map { _ in Int.random(in: r, using: &rng) }
        for o in offsets { data[o] ^= UInt8.random(in: 1...255, using: &rng) }
        try data.write(to: file)
        return offsets
    }

    /// Runs the CLI and sends it SIGKILL after `microseconds` (or lets it finish first).
    static func runAndKill(_ exe: URL, _ arguments: [String], after microseconds: UInt32) throws {
        let p = Process()
        p.executableURL = exe
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        usleep(microseconds)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    static func copy(_ from: URL, to: URL) throws {
        try? FileManager.default.removeItem(at: to)
        try FileManager.default.copyItem(at: from, to: to)
    }

    static func pristine(_ dir: TemporaryDirectory, documents: Int = 24) throws -> URL {
        let url = dir.path("pristine")
        let c = try DocumentCollection.create(at: url, models: try Models.tiny)
        try c.add(sampleDocuments(documents))
        return url
    }

    /// Random bytes flipped in every file of a collection (each segment, the database): search either
    /// fails with a clear error or returns only correct scores (the damaged entries left out and listed
    /// in `damaged`); `verify` reports every segment flip, and `repair` makes the collection clean again.
    @Test func bitRotNeverYieldsAWrongScoreSilently() throws {
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        let source = try Self.pristine(dir, documents: 16)
        let baseline = try Self.scores(DocumentCollection.open(at: source, models: models))
        let files = try FileManager.default.subpathsOfDirectory(atPath: source.path).filter {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: source.appendingPathComponent($0).path, isDirectory: &isDirectory)
            return !isDirectory.boolValue && $0 != "lock"
        }.sorted()
        #expect(files.contains("collection.sqlite") && files.contains("segments/000001.emb") && files.contains("segments/000001.states"), "\(files)")
        var rng = StoreTests.Rng(state: 16)
        var outcomes: [String: [String: Int]] = [:]
        for file in files {
            for trial in 0..<6 {
                let url = dir.path("trial")
                try Self.copy(source, to: url)
                let target = url.appendingPathComponent(file)
                let flipped = try Self.flip(target, bytes: 1 + trial % 4, rng: &rng)
                let report = try? DocumentCollection.verify(at: url)
                let verifySawDamage = report.map { !$0.isClean } ?? true  // verify failing with an error reports it too
                if file.hasPrefix("segments/") {
                    #expect(report.map { !$0.isClean } ?? false, "\(file) flipped at \(flipped): verify found nothing")
                }
                let c: DocumentCollection
                do { c = try DocumentCollection.open(at: url, models: models) } catch let e as RetrievalError {
                    outcomes[file, default: [:]]["open fails", default: 0] += 1
                    #expect(!e.description.isEmpty)
                    continue
                }
                for q in Self.queries {
                    let r: SearchResult
                    do { r = try c.search(q, options: .init(topK: 100, candidates: 100, group: false)) } catch {
                        outcomes[file, default: [:]]["search fails", default: 0] += 1
                        #expect(error is RetrievalError || "\(error)".contains("SQLite"), "\(file): unclear error \(error)")
                        continue
                    }
                    outcomes[file, default: [:]][r.damaged.isEmpty ? "intact results" : "damaged left out", default: 0] += 1
                    if !r.damaged.isEmpty { #expect(verifySawDamage, "\(file): search left out \(r.damaged), verify saw nothing") }
                    for hit in r.hits {
                        guard let expected = baseline[q]?["\(hit.id)#\(hit.passage)"] else {
                            // A passage row renamed by damage inside SQLite's own pages: verify must say so.
                            #expect(verifySawDamage, "\(file) at \(flipped): unknown hit \(hit.id)#\(hit.passage) and verify saw nothing")
                            continue
                        }
                        if let s = hit.embeddingScore, let e = expected.embedding {
                            #expect(abs(s - e) < 1e-4, "\(file) at \(flipped): \(hit.id) cosine \(s), was \(e)")
                        }
                        if let s = hit.rerank?.logit, let e = expected.rerank {
                            #expect(abs(s - e) < 1e-3, "\(file) at \(flipped): \(hit.id) rerank \(s), was \(e)")
                        }
                    }
                }
            }
        }
        // Each way of failing happened, and searches went on past damaged rows.
        let emb = outcomes["segments/000001.emb"] ?? [:], states = outcomes["segments/000001.states"] ?? [:]
        #expect((emb["damaged left out"] ?? 0) > 0, "\(outcomes)")
        #expect((states["damaged left out"] ?? 0) > 0, "\(outcomes)")
        print("bit rot outcomes per file (searches / opens): \(outcomes)")
    }

    /// A damaged embedding row, state blob and segment header: search leaves the passages out and lists
    /// them, `verify` names the documents, `repair` rewrites the header and recomputes the documents to
    /// the same embeddings (or drops them).
    @Test func verifyReportsAndRepairs() async throws {
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        let source = try Self.pristine(dir, documents: 12)
        let original = try DocumentCollection.open(at: source, models: models)
        let embeddings = Dictionary(uniqueKeysWithValues: original.list().map { ($0.id, original.embedding(id: $0.id)!) })
        let p3 = original.passages(of: "doc3")[0], p5 = original.passages(of: "doc5")[0]
        let dimension = original.dimension
        let blob = original.codec.blobBytes
        let stateOffset = try #require(original.rw.read { original.table.byID[p5.id]?.stateOffset })
        let row3 = try #require(original.rw.read { original.table.byID[p3.id]?.embRow })
        #expect(try DocumentCollection.verify(at: source).isClean)

        for mode in [VerifyRepair.recompute, .drop] {
            let url = dir.path("damaged-\(mode.rawValue)")
            try Self.copy(source, to: url)
            var rng = StoreTests.Rng(state: 3)
            let emb = url.appendingPathComponent("segments/000001.emb"), states = url.appendingPathComponent("segments/000001.states")
            let rowStart = 64 + row3 * dimension * 4
            _ = try Self.flip(emb, bytes: 1, within: rowStart..<(rowStart + dimension * 4), rng: &rng)
            _ = try Self.flip(states, bytes: 2, within: stateOffset..<(stateOffset + blob), rng: &rng)

            let c = try DocumentCollection.open(at: url, models: models)
            let r = try c.search("capital", options: .init(topK: 20, candidates: 20, group: false))
            #expect(Set(r.damaged) == [p3.id, p5.id], "\(r.damaged)")
            #expect(!r.hits.contains { $0.passageID == p3.id || $0.passageID == p5.id })
            #expect(r.hits.count == 10)
            #expect(c.embedding(id: "doc3") == nil && c.state(id: "doc5") == nil)

            let report = try DocumentCollection.verify(at: url)
            #expect(report.damagedDocuments == ["doc3", "doc5"], "\(report.damage)")
            #expect(report.damage.contains { $0.problem.contains("embedding row \(row3) fails its CRC-32C") })
            #expect(report.damage.contains { $0.problem.contains("state blob at \(stateOffset) fails its CRC-32C") })
            #expect(report.documents == 12 && report.passages == 12 && report.sqlite.isEmpty)

            // And a damaged header: the collection no longer opens, verify names the file.
            _ = try Self.flip(states, bytes: 1, within: 8..<16, rng: &rng)
            #expect(throws: RetrievalError.self) { try DocumentCollection.open(at: url, models: models) }
            let withHeader = try DocumentCollection.verify(at: url)
            #expect(withHeader.damage.contains { $0.file == "segments/000001.states" && $0.document == nil && $0.problem.contains("header") },
                    "\(withHeader.damage)")

            let after = try DocumentCollection.repair(at: url, mode: mode, models: models)
            #expect(after.isClean, "\(after.damage)")
            #expect(after.rewrittenHeaders == ["segments/000001.states"])
            let fixed = try DocumentCollection.open(at: url, models: models)
            if mode == .recompute {
                #expect(Set(after.recomputed) == ["doc3", "doc5"] && after.dropped.isEmpty)
                #expect(fixed.count == 12)
                for (id, e) in embeddings { #expect(fixed.embedding(id: id).map { maxAbsDiff($0, e) < 1e-6 } == true, "\(id)") }
                #expect(fixed.state(id: "doc5") != nil)
            } else {
                #expect(after.dropped == ["doc3", "doc5"] && after.recomputed.isEmpty)
                #expect(fixed.count == 10 && !fixed.contains(id: "doc3"))
            }
            #expect(try fixed.search("capital", options: .init(topK: 20, candidates: 20, group: false)).damaged.isEmpty)
        }

        // The CLI: exit 1 with the damage listed, then --recompute repairs (exit 0).
        let url = dir.path("cli")
        try Self.copy(source, to: url)
        var rng = StoreTests.Rng(state: 9)
        _ = try Self.flip(url.appendingPathComponent("segments/000001.emb"), bytes: 1, within: (64 + row3 * dimension * 4)..<(64 + (row3 + 1) * dimension * 4), rng: &rng)
        var r = try await runCLI(["verify", "--collection", url.path])
        #expect(r.status == 1 && r.stdout.contains("damaged: document \"doc3\"") && r.stdout.contains("1 damaged documents"), "\(r.stdout) \(r.stderr)")
        r = try await runCLI(["verify", "--collection", url.path, "--recompute"])
        #expect(r.status == 0 && r.stdout.contains("recomputed 1 documents: doc3") && r.stdout.contains("after the repair: intact"), "\(r.stdout) \(r.stderr)")
        r = try await runCLI(["verify", "--collection", url.path, "--quick"])
        #expect(r.status == 0 && r.stdout.contains("verified: 12 documents, 12 passages, 2 segment files; intact"), "\(r.stdout) \(r.stderr)")
    }

    /// Indexing into a nearly full file system: a clear error and a non-zero exit; after freeing space
    /// the collection opens with every acknowledged document intact and none half-there, and takes the rest.
    @Test(.enabled(if: Tmpfs.unavailableReason == nil, "mounting a tmpfs needs root (CAP_SYS_ADMIN); see Tmpfs.unavailableReason"))
    func fullDiskKeepsEveryAcknowledgedDocument() async throws {
        let fs = try Tmpfs(megabytes: 16)
        let dir = try TemporaryDirectory()
        let col = fs.url.appendingPathComponent("col")
        let docs = (0..<60).map { Document(id: "f\($0)", text: sampleTexts[$0 % sampleTexts.count] + " Number \($0) of the full-disk run.") }
        try dir.write("docs.jsonl", docs.map { #"{"id": "\#($0.id)", "text": "\#($0.text)"}"# }.joined(separator: "\n"))
        var r = try await runCLI(["index", "--collection", col.path, "--model", Fixtures.tinyModelPath, "--reranker", Fixtures.tinyRerankerPath, "-"], stdin: "first document")
        #expect(r.status == 0, "\(r.stderr)")
        // About 1.5 MB free: a few batches of 4 documents fit (a tiny-model passage is 68 KB of state), not 60.
        let filler = try fs.fill(leaving: 1536 << 10)
        r = try await runCLI(["index", "--collection", col.path, "--batch-documents", "4", "--log-documents", dir.path("docs.jsonl").path])
        #expect(r.status != 0, "indexing 60 documents into \(fs.freeBytes) free bytes succeeded")
        #expect(r.stderr.contains("no space left on the file system"), "\(r.stderr)")
        let acknowledged = r.stdout.split(separator: "\n").filter { $0.hasPrefix("added ") }.map { String($0.dropFirst(6)) }
        #expect(!acknowledged.isEmpty && acknowledged.count < docs.count, "\(acknowledged.count) acknowledged")
        // Still full: the collection opens read-only and searches.
        do {
            let c = try DocumentCollection.open(at: col, models: try Models.tiny)
            #expect(c.count == acknowledged.count + 1)
            #expect(try c.search("capital of France", options: .init(topK: 3, candidates: 5)).hits.count == 3)
        }
        try FileManager.default.removeItem(at: filler)
        let c = try DocumentCollection.open(at: col, models: try Models.tiny, writable: true)
        #expect(c.count == acknowledged.count + 1, "a document half-there or lost")
        for id in acknowledged {
            let i = Int(id.dropFirst())!
            #expect(c.document(id: id) == docs[i], "\(id) acknowledged but missing")
            #expect(c.embedding(id: id) != nil && c.state(id: id) != nil, "\(id) without its row or state")
        }
        #expect(try DocumentCollection.verify(at: col).isClean)
        try c.add(docs)
        #expect(c.count == docs.count + 1)
    }

    /// kill -9 during `delete` (one transaction): the ids are either all gone or all there, the others intact.
    @Test func deleteSurvivesSIGKILL() throws {
        guard let exe = cliExecutable() else { throw CLIMissing() }
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        let source = try Self.pristine(dir, documents: 24)
        let all = try DocumentCollection.open(at: source, models: models).list().map(\.id)
        var rng = StoreTests.Rng(state: 44)
        var outcomes = [0, 0]  // [all still there, all gone]
        for round in 0..<8 {
            let url = dir.path("round")
            try Self.copy(source, to: url)
            let victims = Array(all.shuffled(using: &rng).prefix(12))
            try Self.runAndKill(exe, ["delete", "--collection", url.path] + victims,
                                after: UInt32(round) * 25_000 + UInt32.random(in: 0...25_000, using: &rng))
            let c = try DocumentCollection.open(at: url, models: models, writable: true)
            let present = Set(c.list().map(\.id))
            let gone = victims.filter { !present.contains($0) }
            #expect(gone.isEmpty || gone.count == victims.count, "round \(round): \(gone.count) of \(victims.count) deleted: not atomic")
            outcomes[gone.isEmpty ? 0 : 1] += 1
            #expect(present.isSuperset(of: Set(all).subtracting(victims)), "round \(round): a document not asked for vanished")
            #expect(try DocumentCollection.verify(at: url).isClean, "round \(round)")
            #expect(try c.search("capital", options: .init(topK: 3, candidates: 5)).hits.count == 3)
        }
        print("kill -9 during delete: \(outcomes[0]) rounds before the commit, \(outcomes[1]) after")
    }

    /// kill -9 during `migrate`: an intact version 1 or a complete version 2 every time; running
    /// `migrate` again finishes with every document, row and state as version 1 had them.
    @Test func migrateSurvivesSIGKILL() throws {
        guard let exe = cliExecutable() else { throw CLIMissing() }
        let dir = try TemporaryDirectory()
        let models = try Models.tiny
        let source = dir.path("v1")
        try StoreTests.writeVersion1(sampleDocuments(24), deleting: ["doc4"], at: source, models: models)
        let v1 = try DocumentCollection.open(at: source, models: models)
        let ids = v1.list().map(\.id)
        let expected = Dictionary(uniqueKeysWithValues: ids.map { ($0, (v1.document(id: $0)!, v1.embedding(id: $0)!, v1.state(id: $0)!)) })
        var rng = StoreTests.Rng(state: 7)
        var seen = [0, 0]  // [version 1 afterwards, version 2 afterwards]
        for round in 0..<8 {
            let url = dir.path("round")
            try Self.copy(source, to: url)
            try Self.runAndKill(exe, ["migrate", "--collection", url.path],
                                after: UInt32(round) * 120_000 + UInt32.random(in: 0...120_000, using: &rng))
            for pass in 0..<2 {
                let c = try DocumentCollection.open(at: url, models: models)
                if pass == 0 { seen[c.isLegacy ? 0 : 1] += 1 }
                #expect(c.list().map(\.id) == ids, "round \(round), pass \(pass): \(c.isLegacy ? "v1" : "v2")")
                for (id, e) in expected {
                    #expect(c.document(id: id) == e.0 && c.embedding(id: id) == e.1 && c.state(id: id) == e.2, "round \(round): \(id)")
                }
                if pass == 0 { _ = try LegacyCollection.migrate(at: url) }  // finishes an interrupted migration
            }
            #expect(try DocumentCollection.verify(at: url).isClean)
        }
        print("kill -9 during migrate: \(seen[0]) rounds left version 1, \(seen[1]) version 2")
    }
}
