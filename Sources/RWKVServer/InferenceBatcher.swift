import EmbeddingRWKV
import Foundation
import RWKVSupport

/// How long one job waited and ran, and the batch it ran in.
struct BatchTimings: Sendable {
    var queue: Duration = .zero
    var inference: Duration = .zero
    /// Inputs in the forward pass that served the job.
    var batchSize: Int = 0
    /// Requests coalesced into that forward pass.
    var batchRequests: Int = 0
}

/// Dynamic batching: requests enqueue token sequences; one dedicated worker thread (never a NIO event
/// loop) owns the engine workspace, takes the oldest job plus every queued job of the same kind that
/// fits in `maxBatchTokens`, runs them as one forward pass, and hands each job its rows back.
///
/// The engine packs sequences as rows without padding, so a job's results do not depend on the other
/// jobs of its batch: coalesced results equal single calls.
public final class InferenceBatcher: @unchecked Sendable {
    enum Payload {
        case embed(EmbeddingTask, [[Int]])
        case rerank([[Int]])
        /// Anything else that needs the engine (collection indexing and search), run alone.
        case exclusive((Workspace) -> Void)

        var sequenceCount: Int {
            switch self {
            case let .embed(_, s), let .rerank(s): s.count
            case .exclusive: 0
            }
        }
    }

    enum Output {
        case vectors([[Float]])
        case scores([RerankScore])
        case done
    }

    private struct Job {
        var payload: Payload
        var tokens: Int
        var enqueued: ContinuousClock.Instant
        var complete: (Result<Output, APIError>, BatchTimings) -> Void
    }

    private let served: ServedModel
    private let config: ServerConfiguration
    private let metrics: ServerMetrics
    private let clock = ContinuousClock()

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [Job] = []
    private var stopping = false
    private var started = false
    private var exited = false
    private var exitWaiters: [CheckedContinuation<Void, Never>] = []
    // Worker-thread only: the previous shared pass (for the linger heuristic).
    private var lastBatchRequests = 0
    private var lastInference: Duration = .zero

    init(served: ServedModel, config: ServerConfiguration, metrics: ServerMetrics) {
        self.served = served
        self.config = config
        self.metrics = metrics
    }

    /// Starts the worker thread (idempotent).
    func start() {
        let first = condition.withLock { () -> Bool in
            defer { started = true }
            return !started
        }
        guard first else { return }
        let thread = Thread { [self] in workerLoop() }
        thread.name = "rwkv-emb inference"
        thread.stackSize = 16 << 20
        thread.start()
    }

    /// Finishes the queued jobs, then stops the worker; later submissions are refused with 503.
    func shutdown() async {
        let mustWait = condition.withLock { () -> Bool in
            stopping = true
            condition.broadcast()
            return started && !exited
        }
        guard mustWait else { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = condition.withLock { () -> Bool in
                if exited { return true }
                exitWaiters.append(c)
                return false
            }
            if done { c.resume() }
        }
    }

    /// Jobs waiting for the worker.
    var queueSize: Int { condition.withLock { queue.count } }

    // MARK: submitting

    /// Embeddings (not normalised) of model inputs, computed in a shared forward pass.
    func embed(_ sequences: [[Int]], task: EmbeddingTask) async throws(APIError) -> ([[Float]], BatchTimings) {
        let (result, timings) = await submit(.embed(task, sequences), tokens: sequences.reduce(0) { $0 + $1.count })
        switch try result.get() {
        case let .vectors(v): return (v, timings)
        default: throw APIError(.backend, "unexpected batch output")
        }
    }

    /// Online rerank scores of full (document + query) inputs, computed in a shared forward pass.
    func rerank(_ sequences: [[Int]]) async throws(APIError) -> ([RerankScore], BatchTimings) {
        let (result, timings) = await submit(.rerank(sequences), tokens: sequences.reduce(0) { $0 + $1.count })
        switch try result.get() {
        case let .scores(s): return (s, timings)
        default: throw APIError(.backend, "unexpected batch output")
        }
    }

    /// Runs `body` on the inference thread with its workspace, alone (between batches).
    func exclusive<T: Sendable>(_ body: @escaping @Sendable (Workspace) throws -> T) async throws(APIError) -> (T, BatchTimings) {
        let box = ResultBox<T>()
        let (result, timings) = await submit(.exclusive({ workspace in
            do { box.value = .success(try body(workspace)) } catch { box.value = .failure(APIError.from(error)) }
        }), tokens: 0)
        _ = try result.get()
        guard let value = box.value else { throw APIError(.backend, "job did not run") }
        return (try value.get(), timings)
    }

    private func submit(_ payload: Payload, tokens: Int) async -> (Result<Output, APIError>, BatchTimings) {
        await withCheckedContinuation { (c: CheckedContinuation<(Result<Output, APIError>, BatchTimings), Never>) in
            let job = Job(payload: payload, tokens: tokens, enqueued: clock.now) { result, timings in c.resume(returning: (result, timings)) }
            let accepted = condition.withLock { () -> Bool in
                guard !stopping else { return false }
                queue.append(job)
                metrics.queueSize.set(Int64(queue.count))
                condition.signal()
                return true
            }
            if !accepted {
                c.resume(returning: (.failure(APIError(.unavailable, "the server is shutting down")), BatchTimings()))
            }
        }
    }

    // MARK: worker

    private func workerLoop() {
        let workspace = served.model.makeWorkspace(maxRows: config.workspaceRows)
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            lingerForCompanions()
            if queue.isEmpty {
                exited = true
                let waiters = exitWaiters
                exitWaiters = []
                condition.unlock()
                for w in waiters { w.resume() }
                return
            }
            let batch = takeBatch()
            metrics.queueSize.set(Int64(queue.count))
            condition.unlock()
            if config.artificialInferenceDelay > .zero {
                Thread.sleep(forTimeInterval: config.artificialInferenceDelay.seconds)
            }
            run(batch, workspace: workspace)
        }
    }

    /// Under steady load, the clients of the pass that just finished send their next requests within a
    /// millisecond or two; starting at once would run a small pass and the rest right after it. So when
    /// fewer jobs are queued than the previous pass served, wait briefly (bounded by `batchLinger` and a
    /// fiftieth of the previous pass) for them. Called with the condition locked.
    private func lingerForCompanions() {
        guard config.batchLinger > .zero, !stopping, queue.count < lastBatchRequests else { return }
        let limit = min(config.batchLinger, lastInference / 50)
        guard limit > .zero else { return }
        let deadline = Date().addingTimeInterval(limit.seconds)
        while queue.count < lastBatchRequests && !stopping {
            if !condition.wait(until: deadline) { break }
        }
    }

    /// Removes and returns the oldest job and the queued jobs that can share its forward pass.
    /// Called with the condition locked.
    private func takeBatch() -> [Job] {
        let first = queue.removeFirst()
        if case .exclusive = first.payload { return [first] }
        var batch = [first]
        var tokens = first.tokens
        var index = 0
        while index < queue.count && batch.count < config.maxBatchRequests && tokens < config.maxBatchTokens {
            let job = queue[index]
            if Self.sameKind(first.payload, job.payload) && tokens + job.tokens <= config.maxBatchTokens {
                batch.append(job)
                tokens += job.tokens
                queue.remove(at: index)
            } else {
                index += 1
            }
        }
        return batch
    }

    private static func sameKind(_ a: Payload, _ b: Payload) -> Bool {
        switch (a, b) {
        case let (.embed(t1, _), .embed(t2, _)): t1 == t2
        case (.rerank, .rerank): true
        default: false
        }
    }

    private func run(_ batch: [Job], workspace: Workspace) {
        let start = clock.now
        let results = compute(batch, workspace: workspace)
        let end = clock.now
        let size = batch.reduce(0) { $0 + $1.payload.sequenceCount }
        if size > 0 {
            lastBatchRequests = batch.count
            lastInference = end - start
            metrics.batchSize.record(Double(size))
            metrics.batchRequests.record(Double(batch.count))
            metrics.batchTokens.record(Double(batch.reduce(0) { $0 + $1.tokens }))
            metrics.inferenceDuration.record(end - start)
        }
        for (job, result) in zip(batch, results) {
            let queued = start - job.enqueued
            metrics.queueDuration.record(queued)
            job.complete(result, BatchTimings(queue: queued, inference: end - start, batchSize: size, batchRequests: batch.count))
        }
    }

    /// One result per job. When a shared pass fails, each job is retried alone so that one bad job
    /// cannot fail its neighbours.
    private func compute(_ batch: [Job], workspace: Workspace) -> [Result<Output, APIError>] {
        if case let .exclusive(body) = batch[0].payload {
            body(workspace)
            return [.success(.done)]
        }
        do {
            return try computeShared(batch, workspace: workspace).map { .success($0) }
        } catch {
            guard batch.count > 1 else { return [.failure(APIError.from(error))] }
            return batch.map { job in
                do { return .success(try computeShared([job], workspace: workspace)[0]) } catch { return .failure(APIError.from(error)) }
            }
        }
    }

    private func computeShared(_ batch: [Job], workspace: Workspace) throws -> [Output] {
        var all: [[Int]] = []
        var counts: [Int] = []
        for job in batch {
            switch job.payload {
            case let .embed(_, s), let .rerank(s):
                all += s
                counts.append(s.count)
            case .exclusive: counts.append(0)
            }
        }
        var outputs: [Output] = []
        var offset = 0
        switch batch[0].payload {
        case let .embed(task, _):
            let vectors = try served.model.embed(all, task: task, normalize: false, workspace: workspace)
            for n in counts {
                outputs.append(.vectors(Array(vectors[offset..<offset + n])))
                offset += n
            }
        case .rerank:
            guard let reranker = served.reranker else { throw APIError(.modelType, "model is not a re-ranker model") }
            let scores = try reranker.rerankOnline(tokens: all, workspace: workspace)
            for n in counts {
                outputs.append(.scores(Array(scores[offset..<offset + n])))
                offset += n
            }
        case .exclusive:
            throw APIError(.backend, "exclusive job in a shared batch")
        }
        return outputs
    }
}

/// Carries a result out of a closure run on the inference thread (written before the job completes,
/// read after: the continuation orders the two).
private final class ResultBox<T>: @unchecked Sendable {
    var value: Result<T, APIError>?
}
