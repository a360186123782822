import Metrics
import MetroKit

/// The runtime's swift-metrics. Events and rpc answers record on every call, so
/// their handles are made once per topic/method and outcome and kept
/// (`MetricHandles`): making a handle per use costs the backend's validation and
/// lookup under its locks (docs/performance.md, "Gateway").
enum RuntimeMetrics {
    /// How an event's delivery ended.
    enum Outcome: String, Sendable {
        /// Handled and ACKed.
        case handled
        /// Its effect had already committed (a redelivery): ACKed, handler skipped.
        case duplicate
        /// Dead-lettered at once: undecodable, unknown schema major, or `EventRejection`.
        case rejected
        /// A transient failure: NAKed with backoff.
        case failed
    }

    private struct Key: Hashable, Sendable {
        var name: String
        var outcome: String
    }

    private static let events = MetricHandles { (key: Key) in
        Counter(label: "metro_service_events_total", dimensions: [("topic", key.name), ("outcome", key.outcome)])
    }
    private static let eventSeconds = MetricHandles { (topic: String) in
        Metrics.Timer(label: "metro_service_event_seconds", dimensions: [("topic", topic)])
    }
    private static let rpcs = MetricHandles { (key: Key) in
        Counter(label: "metro_service_rpc_requests_total", dimensions: [("method", key.name), ("code", key.outcome)])
    }
    private static let rpcSeconds = MetricHandles { (method: String) in
        Metrics.Timer(label: "metro_service_rpc_seconds", dimensions: [("method", method)])
    }

    static func event(topic: String, outcome: Outcome, seconds: Double) {
        events[Key(name: topic, outcome: outcome.rawValue)].increment()
        eventSeconds[topic].recordNanoseconds(Int64(seconds * 1e9))
    }

    /// One rpc call a handler of the service answered (`code`: "ok" or the wire
    /// error's name). Calls the server answered itself (unknown method, overload,
    /// deadline, bad frames) are in `RpcServer`'s own counters.
    static func rpc(method: String, code: String, seconds: Double) {
        rpcs[Key(name: method, outcome: code)].increment()
        rpcSeconds[method].recordNanoseconds(Int64(seconds * 1e9))
    }

    private static let storageRetries = MetricHandles { (topic: String) in
        Counter(label: "metro_service_storage_retries_total", dimensions: [("topic", topic)])
    }

    /// One retry in place of an event whose commit the storage refused (`StorageFault`).
    static func storageRetry(topic: String) { storageRetries[topic].increment() }

    static func outboxPending(_ n: Int) {
        Gauge(label: "metro_service_outbox_pending").record(n)
    }
}
