import Foundation

/// One file of a Hugging Face model repository at a revision (a branch, tag or commit hash).
public struct HubFile: Sendable, Hashable, CustomStringConvertible {
    /// `OWNER/REPO`.
    public var repo: String
    /// The path of the file inside the repository (may contain `/`).
    public var path: String
    /// A branch, a tag or a 40-hex commit hash (default `main`).
    public var revision: String

    public init(repo: String, path: String, revision: String = "main") {
        self.repo = repo
        self.path = path
        self.revision = revision
    }

    /// `hf:OWNER/REPO/FILE[@revision]` (the revision is omitted when it is `main`).
    public var description: String {
        "hf:\(repo)/\(path)" + (revision == "main" ? "" : "@\(revision)")
    }

    /// The last component of `path`.
    public var fileName: String { path.split(separator: "/").last.map(String.init) ?? path }
}

/// What a `--model`, `--reranker` or `download` argument names.
public enum ModelReference: Sendable, Equatable {
    /// An existing checkpoint file.
    case file(URL)
    /// An existing directory to search by naming convention.
    case directory(URL)
    /// A released model by short name (`tiny`, `base`, `large`).
    case known(KnownModel)
    /// One file on the Hub: `hf:OWNER/REPO/FILE[@revision]`.
    case hub(HubFile)

    /// Parses an argument. An existing path wins over a name; `~` is expanded; relative paths are
    /// taken from `currentDirectory`.
    public static func parse(_ text: String, currentDirectory: URL? = nil) throws(HubError) -> ModelReference {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("hf:") {
            return .hub(try parseHubReference(trimmed))
        }
        let path = (trimmed as NSString).expandingTildeInPath
        let url = path.hasPrefix("/") || currentDirectory == nil
            ? URL(fileURLWithPath: path)
            : currentDirectory!.appendingPathComponent(path)
        var isDirectory: ObjCBool = false
        if !trimmed.isEmpty, FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            return isDirectory.boolValue ? .directory(url.standardizedFileURL) : .file(url.standardizedFileURL)
        }
        if let known = KnownModels.named(trimmed) {
            return .known(known)
        }
        if trimmed.contains("/") || trimmed.hasSuffix(".pth") || trimmed.hasSuffix(".safetensors") {
            throw .pathNotFound(trimmed)
        }
        throw .unknownModel(trimmed, known: KnownModels.names)
    }

    /// `hf:OWNER/REPO/FILE[@revision]`.
    public static func parseHubReference(_ text: String) throws(HubError) -> HubFile {
        guard text.hasPrefix("hf:") else { throw .invalidReference(text, reason: "it does not start with hf:") }
        var body = String(text.dropFirst(3))
        var revision = "main"
        let parts = body.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, !parts[2].isEmpty else {
            throw .invalidReference(text, reason: "it needs an owner, a repository and a file")
        }
        var file = parts[2]
        if let at = file.lastIndex(of: "@") {
            revision = String(file[file.index(after: at)...])
            file = String(file[..<at])
            guard !revision.isEmpty, !file.isEmpty else {
                throw .invalidReference(text, reason: "empty file or revision around '@'")
            }
        }
        body = parts[0] + "/" + parts[1]
        for component in [parts[0], parts[1]] + file.split(separator: "/").map(String.init) + [revision]
        where component == ".." || component == "." || component.isEmpty {
            throw .invalidReference(text, reason: "'\(component)' is not allowed in a path")
        }
        guard !file.hasSuffix("/") else { throw .invalidReference(text, reason: "the file is a folder") }
        return HubFile(repo: body, path: file, revision: revision)
    }
}
