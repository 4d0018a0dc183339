import Foundation

/// The Hugging Face hub cache, in the layout the Python `huggingface_hub` library uses, so that
/// files it downloaded are found here and files downloaded here are found by it:
///
///     <root>/models--OWNER--REPO/
///         blobs/<etag>                      the bytes (etag = sha256 for LFS files)
///         blobs/<etag>.incomplete           a download in progress (resumable; never seen as a model)
///         snapshots/<commit>/<path>         symbolic link to ../../blobs/<etag>
///         refs/<revision>                   the commit hash the revision pointed at
///     <root>/.locks/models--OWNER--REPO/<etag>.lock
public struct HubCache: Sendable {
    public let root: URL

    public init(root: URL) {
        self.root = root
    }

    /// `models--OWNER--REPO`.
    public static func folderName(repo: String) -> String {
        "models--" + repo.replacingOccurrences(of: "/", with: "--")
    }

    public func repoFolder(_ repo: String) -> URL {
        root.appendingPathComponent(Self.folderName(repo: repo), isDirectory: true)
    }

    public func blobsFolder(_ repo: String) -> URL { repoFolder(repo).appendingPathComponent("blobs", isDirectory: true) }
    public func snapshotsFolder(_ repo: String) -> URL { repoFolder(repo).appendingPathComponent("snapshots", isDirectory: true) }
    public func refsFolder(_ repo: String) -> URL { repoFolder(repo).appendingPathComponent("refs", isDirectory: true) }

    public func blob(repo: String, etag: String) -> URL {
        blobsFolder(repo).appendingPathComponent(etag)
    }

    public func incompleteBlob(repo: String, etag: String) -> URL {
        blobsFolder(repo).appendingPathComponent(etag + ".incomplete")
    }

    public func lockFile(repo: String, etag: String) -> URL {
        root.appendingPathComponent(".locks", isDirectory: true)
            .appendingPathComponent(Self.folderName(repo: repo), isDirectory: true)
            .appendingPathComponent(etag + ".lock")
    }

    public func snapshot(repo: String, commit: String, path: String) -> URL {
        snapshotsFolder(repo).appendingPathComponent(commit, isDirectory: true).appendingPathComponent(path)
    }

    public func refFile(repo: String, revision: String) -> URL {
        refsFolder(repo).appendingPathComponent(revision)
    }

    /// Whether a revision is already a commit hash.
    public static func isCommitHash(_ revision: String) -> Bool {
        revision.count == 40 && revision.allSatisfy(\.isHexDigit)
    }

    /// The commit a revision points at in the cache (`refs/<revision>`), or the revision itself if it is a hash.
    public func commit(repo: String, revision: String) -> String? {
        if Self.isCommitHash(revision) { return revision }
        guard let text = try? String(contentsOf: refFile(repo: repo, revision: revision), encoding: .utf8) else {
            return nil
        }
        let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return commit.isEmpty ? nil : commit
    }

    /// The cached copy of a file: `snapshots/<commit of revision>/<path>`, if it resolves to a regular file.
    ///
    /// When the ref is missing (a cache copied by hand, say) and the revision is a branch name, the
    /// newest snapshot that has the file is used.
    public func cachedFile(_ file: HubFile) -> URL? {
        if let commit = commit(repo: file.repo, revision: file.revision) {
            let url = snapshot(repo: file.repo, commit: commit, path: file.path)
            if FileSystem.regularFileSize(url) != nil { return url }
            if FileSystem.entryExists(refFile(repo: file.repo, revision: file.revision)) || Self.isCommitHash(file.revision) {
                return nil
            }
        }
        guard !Self.isCommitHash(file.revision) else { return nil }
        let candidates = snapshotCommits(repo: file.repo)
            .map { snapshot(repo: file.repo, commit: $0, path: file.path) }
            .filter { FileSystem.regularFileSize($0) != nil }
        return candidates.max { FileSystem.modificationTime($0) < FileSystem.modificationTime($1) }
    }

    /// The commit folders under `snapshots/`.
    public func snapshotCommits(repo: String) -> [String] {
        let folder = snapshotsFolder(repo)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && FileSystem.isDirectory(folder.appendingPathComponent($0)) }.sorted()
    }

    /// The relative link target from `snapshots/<commit>/<path>` to `blobs/<etag>`.
    static func relativeBlobPath(path: String, etag: String) -> String {
        let depth = path.split(separator: "/").count + 1
        return String(repeating: "../", count: depth) + "blobs/" + etag
    }

    /// Links `snapshots/<commit>/<path>` to an existing blob and records `refs/<revision>` (atomically).
    @discardableResult
    public func link(_ file: HubFile, commit: String, etag: String) throws(HubError) -> URL {
        let url = snapshot(repo: file.repo, commit: commit, path: file.path)
        try FileSystem.createDirectory(url.deletingLastPathComponent())
        try FileSystem.symlink(url, to: Self.relativeBlobPath(path: file.path, etag: etag))
        try recordRef(repo: file.repo, revision: file.revision, commit: commit)
        return url
    }

    /// Writes `refs/<revision>` = commit (nothing for a revision that is already a hash).
    public func recordRef(repo: String, revision: String, commit: String) throws(HubError) {
        guard revision != commit else { return }
        let ref = refFile(repo: repo, revision: revision)
        if (try? String(contentsOf: ref, encoding: .utf8)) == commit { return }
        try FileSystem.createDirectory(ref.deletingLastPathComponent())
        try FileSystem.writeAtomically(commit, to: ref)
    }

    // MARK: Listing

    /// One file of one snapshot in the cache.
    public struct Entry: Sendable, Equatable {
        public var repo: String
        public var commit: String
        public var path: String
        public var url: URL
        public var size: Int64
        /// The refs (branches, tags) pointing at this commit.
        public var refs: [String]
    }

    /// The complete files of a repository in the cache, newest commit per ref first.
    public func entries(repo: String) -> [Entry] {
        let refs = refNames(repo: repo)
        var entries: [Entry] = []
        for commit in snapshotCommits(repo: repo) {
            let folder = snapshotsFolder(repo).appendingPathComponent(commit, isDirectory: true)
            guard let enumerator = FileManager.default.enumerator(atPath: folder.path) else { continue }
            while let relative = enumerator.nextObject() as? String {
                let url = folder.appendingPathComponent(relative)
                guard let size = FileSystem.regularFileSize(url) else { continue }
                entries.append(Entry(repo: repo, commit: commit, path: relative, url: url, size: size,
                                     refs: refs.filter { self.commit(repo: repo, revision: $0) == commit }))
            }
        }
        return entries.sorted { ($0.path, $0.commit) < ($1.path, $1.commit) }
    }

    /// The names under `refs/` (nested names such as `refs/pr/1` included).
    public func refNames(repo: String) -> [String] {
        let folder = refsFolder(repo)
        guard let enumerator = FileManager.default.enumerator(atPath: folder.path) else { return [] }
        var names: [String] = []
        while let relative = enumerator.nextObject() as? String {
            if FileSystem.regularFileSize(folder.appendingPathComponent(relative)) != nil { names.append(relative) }
        }
        return names.sorted()
    }

    /// Bytes of resumable partial downloads of a repository.
    public func incompleteBytes(repo: String) -> Int64 {
        let folder = blobsFolder(repo)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".incomplete") }
            .compactMap { FileSystem.regularFileSize(folder.appendingPathComponent($0)) }
            .reduce(0, +)
    }
}
