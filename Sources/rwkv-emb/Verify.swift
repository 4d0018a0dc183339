import ArgumentParser
import Foundation
import RWKVRetrieval

/// `rwkv-emb verify`: the bit-rot scrub (every checksum and SQLite's integrity check), optionally repairing.
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every record of a collection (segment headers, embedding rows, state blobs, texts, SQLite) and report damage.",
        discussion: """
            Exits 0 when the collection is intact (after the repair, with --drop or --recompute), 1 when \
            damage remains. Damaged segment headers are rewritten by either repair (they hold only what \
            the manifest implies).
            """
    )

    @OptionGroup var collectionOptions: CollectionOptions

    @Flag(help: "Delete every damaged document.")
    var drop = false

    @Flag(help: "Compute damaged documents again from their stored text (those whose text is damaged are deleted); loads the models.")
    var recompute = false

    @Flag(help: "SQLite's quick_check instead of the full integrity_check.")
    var quick = false

    func validate() throws {
        if drop && recompute { throw ValidationError("give --drop or --recompute, not both") }
    }

    func run() async throws {
        let url = collectionOptions.url
        let mode: VerifyRepair = drop ? .drop : recompute ? .recompute : .report
        let models = mode == .recompute ? try await collectionOptions.loadModels(manifest: try DocumentCollection.readManifest(at: url)) : nil
        if mode != .report {
            let found = try DocumentCollection.verify(at: url, quick: quick)
            printReport(found)
        }
        let r = try DocumentCollection.repair(at: url, mode: mode, models: models, quick: quick)
        if !r.rewrittenHeaders.isEmpty { print("rewrote headers: \(r.rewrittenHeaders.joined(separator: ", "))") }
        if !r.recomputed.isEmpty { print("recomputed \(r.recomputed.count) documents: \(r.recomputed.joined(separator: ", "))") }
        if !r.dropped.isEmpty { print("dropped \(r.dropped.count) documents: \(r.dropped.joined(separator: ", "))") }
        if mode == .report { printReport(r) } else { print("after the repair: " + (r.isClean ? "intact" : "damage remains")); if !r.isClean { printReport(r) } }
        if !r.isClean { throw ExitCode(1) }
    }

    private func printReport(_ r: VerifyReport) {
        for line in r.sqlite { print("sqlite: \(line)") }
        for d in r.damage { print("damaged: \(d)") }
        for f in r.deadByteDamage { print("note: \(f): the sealed segment's checksum differs in dead bytes only (compact --all rewrites it)") }
        print("verified: \(r.documents) documents, \(r.passages) passages, \(r.segments) segment files; "
              + (r.isClean ? "intact" : "\(r.damagedDocuments.count) damaged documents, \(r.damage.count) damaged records, \(r.sqlite.count) SQLite problems"))
    }
}
