import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns command-line inputs into documents: text files, directories (recursively, with include/exclude
/// globs), JSONL files (`{"id", "text", "title"?, "metadata"?}`), and standard input (`-`).
///
/// Ids: a file's path as reached from the argument (e.g. `docs/a/b.txt`); a JSONL line's `id` (string or
/// number), or `sha256:` + 16 hex digits of its text when absent; standard input as text gets the content id.
public enum DocumentInputs {
    public enum Format: String, Sendable, CaseIterable {
        /// By extension (`.jsonl`/`.ndjson` are JSONL, everything else text); standard input is JSONL when
        /// its first non-blank character is `{`.
        case auto
        case text
        case jsonl
    }

    public struct Options: Sendable {
        /// Globs a file under a directory must match (its name or its path relative to the directory); none: all.
        public var include: [String]
        /// Globs that exclude files (and directories) under a directory.
        public var exclude: [String]
        public var format: Format
        public init(include: [String] = [], exclude: [String] = [], format: Format = .auto) {
            self.include = include
            self.exclude = exclude
            self.format = format
        }
    }

    /// Reads all inputs (nothing is indexed before every input has been read and parsed).
    public static func read(_ paths: [String], options: Options = Options(),
                            standardInput: () -> Data = { FileHandle.standardInput.readDataToEndOfFile() }) throws -> [Document] {
        var documents: [Document] = []
        let fm = FileManager.default
        for path in paths {
            if path == "-" {
                let data = standardInput()
                let asJSONL: Bool
                switch options.format {
                case .jsonl: asJSONL = true
                case .text: asJSONL = false
                case .auto: asJSONL = data.first(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) == UInt8(ascii: "{")
                }
                if asJSONL {
                    documents += try parseJSONL(data, source: "<stdin>")
                } else {
                    documents.append(Document(text: try utf8(data, source: "<stdin>")))
                }
                continue
            }
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw RetrievalError.invalidInput("\(path): no such file or directory")
            }
            if isDirectory.boolValue {
                for relative in try files(under: path, options: options) {
                    let full = (path as NSString).appendingPathComponent(relative)
                    documents += try readFile(full, options: options)
                }
            } else {
                documents += try readFile(path, options: options)
            }
        }
        return documents
    }

    static func readFile(_ path: String, options: Options) throws -> [Document] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RetrievalError.invalidInput("\(path): cannot be read")
        }
        let ext = (path as NSString).pathExtension.lowercased()
        let jsonl = options.format == .jsonl || (options.format == .auto && (ext == "jsonl" || ext == "ndjson"))
        if jsonl { return try parseJSONL(data, source: path) }
        let text = try utf8(data, source: path)
        return [Document(id: path, text: text, metadata: #"{"path":"# + jsonString(path) + "}")]
    }

    static func utf8(_ data: Data, source: String) throws -> String {
        guard let s = String(data: data, encoding: .utf8) else {
            throw RetrievalError.notText(path: source)
        }
        return s
    }

    /// Files under `directory` (relative paths, sorted), skipping hidden entries.
    static func files(under directory: String, options: Options) throws -> [String] {
        guard let e = FileManager.default.enumerator(atPath: directory) else {
            throw RetrievalError.invalidInput("\(directory): cannot list the directory")
        }
        var out: [String] = []
        while let relative = e.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            let isDirectory = (e.fileAttributes?[.type] as? FileAttributeType) == .typeDirectory
            if name.hasPrefix(".") || options.exclude.contains(where: { matches($0, relative) || matches($0, name) }) {
                if isDirectory { e.skipDescendants() }
                continue
            }
            if isDirectory { continue }
            if !options.include.isEmpty && !options.include.contains(where: { matches($0, relative) || matches($0, name) }) { continue }
            out.append(relative)
        }
        return out.sorted()
    }

    static func matches(_ pattern: String, _ path: String) -> Bool {
        fnmatch(pattern, path, 0) == 0
    }

    /// One document per non-blank line; errors name the source and the line.
    public static func parseJSONL(_ data: Data, source: String) throws -> [Document] {
        var documents: [Document] = []
        var lineNumber = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            let trimmed = line.drop(while: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D })
            if trimmed.isEmpty || trimmed.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            let location = "\(source):\(lineNumber)"
            guard String(validating: line, as: UTF8.self) != nil else {
                throw RetrievalError.invalidInput("\(location): not UTF-8 text")
            }
            let object: Any
            do { object = try JSONSerialization.jsonObject(with: Data(line), options: [.fragmentsAllowed]) } catch {
                throw RetrievalError.invalidInput("\(location): invalid JSON")
            }
            guard let dict = object as? [String: Any] else {
                throw RetrievalError.invalidInput("\(location): expected a JSON object with \"text\"")
            }
            guard let text = dict["text"] as? String else {
                throw RetrievalError.invalidInput("\(location): missing or non-string \"text\"")
            }
            if text.isEmpty { throw RetrievalError.invalidInput("\(location): empty \"text\"") }
            var id: String?
            switch dict["id"] {
            case nil, is NSNull: id = nil
            case let s as String: id = s
            case let n as NSNumber: id = n.stringValue
            default: throw RetrievalError.invalidInput("\(location): \"id\" must be a string or a number")
            }
            if let id, id.isEmpty { throw RetrievalError.invalidInput("\(location): empty \"id\"") }
            var fullText = text
            if let title = dict["title"] {
                guard let t = title as? String else { throw RetrievalError.invalidInput("\(location): \"title\" must be a string") }
                fullText = t + " " + text
            }
            var metadata: String?
            if let m = dict["metadata"], !(m is NSNull) {
                guard m is [String: Any], JSONSerialization.isValidJSONObject(m),
                      let d = try? JSONSerialization.data(withJSONObject: m, options: [.sortedKeys, .withoutEscapingSlashes]) else {
                    throw RetrievalError.invalidInput("\(location): \"metadata\" must be a JSON object")
                }
                metadata = String(decoding: d, as: UTF8.self)
            }
            documents.append(Document(id: id, text: fullText, metadata: metadata))
        }
        return documents
    }

    static func jsonString(_ s: String) -> String {
        let d = (try? JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])) ?? Data("[\"\"]".utf8)
        return String(String(decoding: d, as: UTF8.self).dropFirst().dropLast())
    }
}
