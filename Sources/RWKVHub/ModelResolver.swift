import Foundation

/// A checkpoint file ready to load, and where it came from.
public struct ResolvedCheckpoint: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// A file path given as is.
        case path
        /// Found in a directory that was given.
        case directory(URL)
        /// Found in the Hugging Face cache.
        case cache(HubFile)
        /// Downloaded just now.
        case downloaded(HubFile)
        /// The random-weight test model, because the default model was unavailable.
        case fallback(URL)
    }

    public var url: URL
    public var role: CheckpointRole
    public var source: Source

    public var isFallback: Bool {
        if case .fallback = source { return true }
        return false
    }
}

/// An embedding model and (when asked for) its reranker.
public struct ResolvedModelPair: Sendable, Equatable {
    public var embedding: ResolvedCheckpoint
    public var reranker: ResolvedCheckpoint?
}

/// Turns `--model` / `--reranker` arguments into checkpoint files.
///
/// A file path is used as is; a directory is searched by naming convention (`CheckpointDirectory`);
/// a name (`tiny`, `base`, `large`, `hf:OWNER/REPO/FILE[@revision]`) is looked up in the Hugging
/// Face cache first and downloaded when it is missing (unless offline or `allowDownload` is off).
/// When no model is named, the default `tiny` is used; if it can be neither found nor downloaded,
/// the random-weight test model (`FallbackModel`) stands in, with a notice.
public struct ModelResolver: Sendable {
    public var environment: HubEnvironment
    public var currentDirectory: URL?
    /// Folders that may hold the fallback model (after `environment.fallbackDirectory`).
    public var fallbackCandidates: [URL]
    public var allowDownload: Bool
    public var downloadConfiguration: DownloadConfiguration
    public var progress: DownloadProgressHandler?
    /// Receives notices for the user (the CLI prints them on standard error).
    public var notice: @Sendable (String) -> Void

    public init(environment: HubEnvironment,
                currentDirectory: URL? = nil,
                fallbackCandidates: [URL] = [],
                allowDownload: Bool = true,
                downloadConfiguration: DownloadConfiguration = DownloadConfiguration(),
                progress: DownloadProgressHandler? = nil,
                notice: @escaping @Sendable (String) -> Void = { _ in }) {
        self.environment = environment
        self.currentDirectory = currentDirectory
        self.fallbackCandidates = fallbackCandidates
        self.allowDownload = allowDownload
        self.downloadConfiguration = downloadConfiguration
        self.progress = progress
        self.notice = notice
    }

    public var cache: HubCache { environment.cache }

    // MARK: - Single checkpoints

    /// Resolves one argument to a checkpoint of the given role.
    public func resolve(_ text: String, role: CheckpointRole) async throws(HubError) -> ResolvedCheckpoint {
        try await resolve(ModelReference.parse(text, currentDirectory: currentDirectory), role: role)
    }

    public func resolve(_ reference: ModelReference, role: CheckpointRole) async throws(HubError) -> ResolvedCheckpoint {
        switch reference {
        case let .file(url):
            return ResolvedCheckpoint(url: url, role: role, source: .path)
        case let .directory(directory):
            return ResolvedCheckpoint(url: try CheckpointDirectory.find(role, in: directory), role: role, source: .directory(directory))
        case let .known(model):
            return try await resolve(model.file(for: role), role: role)
        case let .hub(file):
            return try await resolve(file, role: role)
        }
    }

    /// A Hub file: the cache first, then a download.
    public func resolve(_ file: HubFile, role: CheckpointRole) async throws(HubError) -> ResolvedCheckpoint {
        if let url = cache.cachedFile(file) {
            return ResolvedCheckpoint(url: url, role: role, source: .cache(file))
        }
        guard !environment.offline, allowDownload else {
            throw .notCached(repo: file.repo, file: file.path, revision: file.revision,
                             cache: cache.root.path, offline: environment.offline)
        }
        let downloader = Downloader(environment: environment, configuration: downloadConfiguration)
        let result = try await downloader.download(file, progress: progress)
        return ResolvedCheckpoint(url: result.url, role: role,
                                  source: result.downloaded ? .downloaded(file) : .cache(file))
    }

    // MARK: - Pairs

    /// The embedding model of `--model` (nil: the default, with the fallback).
    public func resolveEmbedding(model: String?) async throws(HubError) -> ResolvedCheckpoint {
        try await resolvePair(model: model, reranker: nil, needsReranker: false).embedding
    }

    /// The embedding model and the reranker: `--reranker` when given, else the one paired with the model.
    public func resolvePair(model: String?, reranker: String?, needsReranker: Bool = true) async throws(HubError) -> ResolvedModelPair {
        guard let model else {
            do {
                let known = KnownModels.named(KnownModels.defaultName)!
                return try await resolvePair(.known(known), reranker: reranker, needsReranker: needsReranker)
            } catch {
                guard let fallback = FallbackModel.locate(environment: environment, candidates: fallbackCandidates) else { throw error }
                notice(Self.fallbackNotice(reason: error, directory: fallback))
                let embedding = ResolvedCheckpoint(url: fallback.appendingPathComponent(FallbackModel.embeddingFile),
                                                   role: .embedding, source: .fallback(fallback))
                var rerankerCheckpoint: ResolvedCheckpoint?
                if let reranker {
                    rerankerCheckpoint = try await resolve(reranker, role: .reranker)
                } else if needsReranker {
                    rerankerCheckpoint = ResolvedCheckpoint(url: fallback.appendingPathComponent(FallbackModel.rerankerFile),
                                                            role: .reranker, source: .fallback(fallback))
                }
                return ResolvedModelPair(embedding: embedding, reranker: rerankerCheckpoint)
            }
        }
        return try await resolvePair(ModelReference.parse(model, currentDirectory: currentDirectory),
                                     reranker: reranker, needsReranker: needsReranker)
    }

    /// What the user is told when the test model stands in for the default model.
    public static func fallbackNotice(reason: HubError, directory: URL) -> String {
        """
        Notice: the default model '\(KnownModels.defaultName)' is not cached and could not be downloaded:
          \(reason.description)
        Using the small TEST model with RANDOM weights from \(directory.path) instead: \
        its embeddings and scores are meaningless.
        Download '\(KnownModels.defaultName)' when online to get the real model.
        """
    }

    public func resolvePair(_ model: ModelReference, reranker: String?, needsReranker: Bool) async throws(HubError) -> ResolvedModelPair {
        let embedding = try await resolve(model, role: .embedding)
        guard needsReranker || reranker != nil else { return ResolvedModelPair(embedding: embedding, reranker: nil) }
        if let reranker {
            return ResolvedModelPair(embedding: embedding, reranker: try await resolve(reranker, role: .reranker))
        }
        let paired: ResolvedCheckpoint
        switch model {
        case .known:
            paired = try await resolve(model, role: .reranker)
        case let .hub(file):
            guard let rerankerName = KnownModels.pairedRerankerFile(forEmbeddingFile: file.fileName) else {
                throw .noPairedReranker(model: file.description)
            }
            let folder = (file.path as NSString).deletingLastPathComponent
            let path = folder.isEmpty ? rerankerName : folder + "/" + rerankerName
            paired = try await resolve(HubFile(repo: file.repo, path: path, revision: file.revision), role: .reranker)
        case let .directory(directory):
            paired = ResolvedCheckpoint(url: try CheckpointDirectory.find(.reranker, in: directory, pairedWith: embedding.url),
                                        role: .reranker, source: .directory(directory))
        case let .file(url):
            do {
                paired = ResolvedCheckpoint(url: try CheckpointDirectory.pairedReranker(besides: url), role: .reranker,
                                            source: .directory(url.deletingLastPathComponent()))
            } catch {
                throw .noPairedReranker(model: url.path)
            }
        }
        return ResolvedModelPair(embedding: embedding, reranker: paired)
    }
}
