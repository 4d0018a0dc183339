import Foundation

/// Finds checkpoints in a directory by naming convention:
///
/// - a reranker has `rerank` in its name (`reranker.pth`, `rwkv0b1-reranker.pth`);
/// - an embedding model is any other checkpoint, preferably one with `emb` in its name
///   (`embedding.pth`, `rwkv0b1-emb-curriculum.pth`);
/// - checkpoints end in `.pth` or `.safetensors`;
/// - a Hugging Face cache folder (`models--OWNER--REPO`) stands for its `refs/main` snapshot.
public enum CheckpointDirectory {
    public static let extensions: Set<String> = ["pth", "safetensors"]

    public static func find(_ role: CheckpointRole, in directory: URL, pairedWith embedding: URL? = nil) throws(HubError) -> URL {
        let folder = snapshotFolder(directory)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
            .filter { !$0.hasPrefix(".") && extensions.contains(($0 as NSString).pathExtension.lowercased()) }
            .filter { FileSystem.regularFileSize(folder.appendingPathComponent($0)) != nil }
            .sorted()
        let rerankers = names.filter { $0.lowercased().contains("rerank") }
        let others = names.filter { !$0.lowercased().contains("rerank") }
        let candidates: [String]
        switch role {
        case .reranker:
            if let embedding, let paired = KnownModels.pairedRerankerFile(forEmbeddingFile: embedding.lastPathComponent),
               rerankers.contains(paired) {
                return folder.appendingPathComponent(paired)
            }
            candidates = rerankers
        case .embedding:
            let named = others.filter { $0.lowercased().contains("emb") }
            candidates = named.isEmpty ? others : named
        }
        guard !candidates.isEmpty else { throw .noCheckpointInDirectory(directory: folder.path, role: role) }
        guard candidates.count == 1 else {
            throw .ambiguousCheckpoint(directory: folder.path, role: role, candidates: candidates)
        }
        return folder.appendingPathComponent(candidates[0])
    }

    /// The reranker that goes with an embedding checkpoint file: the released pair's file next to
    /// it, else the only reranker in its folder.
    public static func pairedReranker(besides embedding: URL) throws(HubError) -> URL {
        try find(.reranker, in: embedding.deletingLastPathComponent(), pairedWith: embedding)
    }

    /// `models--OWNER--REPO` -> its `snapshots/<refs/main>`; any other folder is itself.
    static func snapshotFolder(_ directory: URL) -> URL {
        let ref = directory.appendingPathComponent("refs/main")
        guard directory.lastPathComponent.hasPrefix("models--"),
              let commit = (try? String(contentsOf: ref, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines),
              !commit.isEmpty else { return directory }
        let snapshot = directory.appendingPathComponent("snapshots", isDirectory: true).appendingPathComponent(commit, isDirectory: true)
        return FileSystem.isDirectory(snapshot) ? snapshot : directory
    }
}
