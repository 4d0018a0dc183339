import Foundation

/// What the local cache holds of each released model (for `rwkv-emb models`).
public enum ModelCatalog {
    public struct CachedFile: Sendable, Equatable {
        public var file: HubFile
        public var url: URL
        public var size: Int64
    }

    public struct Status: Sendable, Equatable {
        public var model: KnownModel
        public var embedding: CachedFile?
        public var reranker: CachedFile?
        /// Both files are cached: the name works offline.
        public var isComplete: Bool { embedding != nil && reranker != nil }
    }

    public static func status(cache: HubCache, models: [KnownModel] = KnownModels.all) -> [Status] {
        models.map { model in
            func cached(_ file: HubFile) -> CachedFile? {
                guard let url = cache.cachedFile(file), let size = FileSystem.regularFileSize(url) else { return nil }
                return CachedFile(file: file, url: url, size: size)
            }
            return Status(model: model, embedding: cached(model.embedding), reranker: cached(model.reranker))
        }
    }
}
