import Metrics

/// The runtime's swift-metrics. The process's backend (Prometheus in
/// `metro worker`) caches each label and dimensions pair, so making a handle per
/// use costs a lookup, not a new series.
enum RuntimeMetrics {
    /// How an event's delivery ended.
    enum Outcome: String {
        /// Handled and ACKed.
        case handled
        /// Its effect had already committed (a redelivery): ACKed, handler skipped.
        case duplicate
        /// Dead-lettered at once: undecodable, unknown schema major, or `EventRejection`.
        case rejected
        /// A transient failure: NAKed with backoff.
        case failed
    }

    static func event(topic: String, outcome: Outcome, seconds: Double) {
        Counter(label: "metro_service_events_total", dimensions: [("topic", topic), ("outcome", outcome.rawValue)])
            .increment()
        Metrics.Timer(label: "metro_service_event_seconds", dimensions: [("topic", topic)])
            .recordNanoseconds(Int64(seconds * 1e9))
    }

    /// One rpc call a handler of the service answered (`code`: "ok" or the wire
    /// error's name). Calls the server answered itself (unknown method, overload,
    /// deadline, bad frames) are in `RpcServer`'s own counters.
    static func rpc(method: String, code: String, seconds: Double) {
        Counter(label: "metro_service_rpc_requests_total", dimensions: [("method", method), ("code", code)])
            .increment()
        Metrics.Timer(label: "metro_service_rpc_seconds", dimensions: [("method", method)])
            .recordNanoseconds(Int64(seconds * 1e9))
    }

    static func outboxPending(_ n: Int) {
        Gauge(label: "metro_service_outbox_pending").record(n)
    }
}
