import Prometheus

/// Prometheus metrics of one server (its own registry, so that several servers can run in one
/// process). Names follow text-embeddings-inference (`te_*`) so that existing dashboards work.
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    let queueSize: Gauge
    let batchSize: ValueHistogram
    let batchRequests: ValueHistogram
    let batchTokens: ValueHistogram
    let inputLength: ValueHistogram
    let requestDuration: DurationHistogram
    let tokenizationDuration: DurationHistogram
    let queueDuration: DurationHistogram
    let inferenceDuration: DurationHistogram

    static let durationBuckets: [Duration] = [
        .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30),
    ]
    static let sizeBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    static let tokenBuckets: [Double] = [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768]

    /// A metric name used as is (no unit suffix appended).
    static func d(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        queueSize = registry.makeGauge(descriptor: Self.d("te_queue_size", "Jobs waiting for the inference worker"))
        batchSize = registry.makeValueHistogram(descriptor: Self.d("te_batch_next_size", "Inputs per forward pass"), buckets: Self.sizeBuckets)
        batchRequests = registry.makeValueHistogram(descriptor: Self.d("te_batch_next_requests", "Requests coalesced into one forward pass"), buckets: Self.sizeBuckets)
        batchTokens = registry.makeValueHistogram(descriptor: Self.d("te_batch_next_tokens", "Tokens per forward pass"), buckets: Self.tokenBuckets)
        inputLength = registry.makeValueHistogram(descriptor: Self.d("te_request_input_length", "Model input tokens per request"), buckets: Self.tokenBuckets)
        requestDuration = registry.makeDurationHistogram(descriptor: Self.d("te_request_duration", "Request duration"), buckets: Self.durationBuckets)
        tokenizationDuration = registry.makeDurationHistogram(descriptor: Self.d("te_request_tokenization_duration", "Tokenization and validation duration"), buckets: Self.durationBuckets)
        queueDuration = registry.makeDurationHistogram(descriptor: Self.d("te_request_queue_duration", "Time a job waited for the inference worker"), buckets: Self.durationBuckets)
        inferenceDuration = registry.makeDurationHistogram(descriptor: Self.d("te_request_inference_duration", "Forward pass duration"), buckets: Self.durationBuckets)
    }

    /// TEI's request counter: `te_request_count{method="single"|"batch"}` (one input or a list).
    func countRequest(method: String) {
        registry.makeCounter(descriptor: Self.d("te_request_count", "Requests received"), labels: [("method", method)]).increment()
    }

    /// TEI's `te_request_success{method="single"|"batch"}`.
    func countSuccess(method: String) {
        registry.makeCounter(descriptor: Self.d("te_request_success", "Requests answered 2xx"), labels: [("method", method)]).increment()
    }

    /// Counts a failed request by error kind (`te_request_failure{err="validation"}`, TEI's values).
    func countFailure(kind: APIErrorKind) {
        registry.makeCounter(descriptor: Self.d("te_request_failure", "Failed requests by kind"), labels: [("err", kind.metricLabel)]).increment()
    }

    func countTokens(_ n: Int) {
        registry.makeCounter(descriptor: Self.d("te_request_tokens", "Model input tokens processed")).increment(by: Int64(n))
    }

    /// TEI's per-input counters (`te_embed_count`, `te_embed_success`).
    func countEmbeddings(_ n: Int) {
        registry.makeCounter(descriptor: Self.d("te_embed_count", "Inputs embedded")).increment(by: Int64(n))
        registry.makeCounter(descriptor: Self.d("te_embed_success", "Inputs embedded successfully")).increment(by: Int64(n))
    }

    /// Our own family: every HTTP request by route when it arrives
    /// (`rwkv_emb_http_requests_received{route="/embed"}`), collections and docs included.
    func countReceived(route: String) {
        registry.makeCounter(descriptor: Self.d("rwkv_emb_http_requests_received", "HTTP requests received by route"),
                             labels: [("route", route)]).increment()
    }

    /// Our own family: every HTTP response by route and status class
    /// (`rwkv_emb_http_responses{route="/embed",status="2xx"}`).
    func countResponse(route: String, status: Int) {
        registry.makeCounter(descriptor: Self.d("rwkv_emb_http_responses", "HTTP responses by route and status class"),
                             labels: [("route", route), ("status", "\(status / 100)xx")]).increment()
    }

    // The collection families: ServerMetrics+Collections.swift.

    /// The Prometheus text exposition.
    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}
