// swift-tools-version: 6.1
import Foundation
import PackageDescription

// libFuzzer targets, built apart from the main package so its build is unaffected:
//   swift build --package-path Fuzz --scratch-path .build-fuzz --sanitize fuzzer --sanitize address
// (scripts/fuzz does that and runs each target on its seed corpus in Fuzz/Corpus/<target>).
// A path dependency's identity is its folder's name, which differs between clones: read it here.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let main = root.lastPathComponent.lowercased()

let package = Package(
    name: "rwkv-emb-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(path: root.path)],
    targets: [
        // The .pth reader: zip directory + whitelisted pickle + tensor views.
        .executableTarget(name: "fuzz-pth", dependencies: [.product(name: "RWKVCheckpoint", package: main)], path: "Targets/fuzz-pth"),
        // The safetensors reader: JSON header validation, bounds, overlaps.
        .executableTarget(name: "fuzz-safetensors", dependencies: [.product(name: "RWKVCheckpoint", package: main)], path: "Targets/fuzz-safetensors"),
        // The vocabulary file parser (Python str/bytes literals) and the trie built from it.
        .executableTarget(name: "fuzz-vocabulary", dependencies: [.product(name: "RWKVTokenizer", package: main)], path: "Targets/fuzz-vocabulary"),
        // encode(bytes) then decode gives the same bytes back, for any bytes.
        .executableTarget(name: "fuzz-tokenizer", dependencies: [.product(name: "RWKVTokenizer", package: main)], path: "Targets/fuzz-tokenizer"),
        // Every route's JSON request body type, decoded as the routes decode them.
        .executableTarget(name: "fuzz-http", dependencies: [.product(name: "RWKVServer", package: main)], path: "Targets/fuzz-http"),
        // The metadata filter parser, and its SQL agreeing with `MetadataFilter.matches`.
        .executableTarget(name: "fuzz-filter", dependencies: [.product(name: "RWKVRetrieval", package: main)], path: "Targets/fuzz-filter"),
        // A collection opened, searched and verified after arbitrary corruption of its files.
        .executableTarget(name: "fuzz-collection", dependencies: [.product(name: "RWKVRetrieval", package: main)], path: "Targets/fuzz-collection"),
    ]
)
