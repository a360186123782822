import Metrics
import MetroKit

/// The gateway's metrics (issue 17 §6), through swift-metrics: whatever backend
/// the process bootstrapped (`metro gateway`: Prometheus) exports them. Names and
/// labels are in docs/operations.md ("The gateway").
///
/// Every request records here, so the handles are made once per route, method
/// and status (per service and outcome, per service) and kept (`MetricHandles`):
/// making them per request cost five factory lookups under the backend's locks
/// (docs/performance.md, "Gateway").
///
/// Threading: `Sendable`; swift-metrics' handles are thread-safe.
public struct GatewayMetrics: Sendable {
    struct RequestKey: Hashable, Sendable {
        var route: String
        var method: String
        var status: Int
    }

    struct ServiceKey: Hashable, Sendable {
        var service: String
        var label: String
    }

    private let requests = MetricHandles { (key: RequestKey) in
        let dims = [("route", key.route), ("method", key.method), ("status", String(key.status))]
        return (
            count: Counter(label: "metro_gateway_requests_total", dimensions: dims),
            duration: Timer(label: "metro_gateway_request_duration_seconds", dimensions: dims)
        )
    }
    private let calls = MetricHandles { (key: ServiceKey) in
        Counter(label: "metro_gateway_rpc_calls_total", dimensions: [("service", key.service), ("outcome", key.label)])
    }
    private let sheds = MetricHandles { (key: ServiceKey) in
        Counter(label: "metro_gateway_shed_total", dimensions: [("reason", key.label), ("service", key.service)])
    }
    private let limits = MetricHandles { (service: String) in
        (
            limit: Gauge(label: "metro_gateway_concurrency_limit", dimensions: [("service", service)]),
            inFlight: Gauge(label: "metro_gateway_in_flight", dimensions: [("service", service)])
        )
    }

    public init() {}

    /// One HTTP request: its route template (`unmatched` when no route matched), method, status and duration.
    func request(route: String, method: String, status: Int, duration: Duration) {
        let handles = requests[RequestKey(route: route, method: method, status: status)]
        handles.count.increment()
        handles.duration.record(duration: duration)
    }

    /// One rpc call (or publish) to an upstream and how it ended (`ok`, `not-found`, `deadline`, ...).
    func upstreamCall(service: String, outcome: String) {
        calls[ServiceKey(service: service, label: outcome)].increment()
    }

    /// One request refused by the gateway itself, before any upstream: `limit`
    /// (the service's concurrency limit), `too-large`, `media-type`; with
    /// authentication on, `unauthenticated` (401) and `forbidden` (403), service `gateway`.
    func shed(reason: String, service: String) {
        sheds[ServiceKey(service: service, label: reason)].increment()
    }

    /// The adaptive limit and the requests in flight of `service`, after a change.
    func limit(service: String, _ snapshot: ConcurrencyGate.Snapshot) {
        let handles = limits[service]
        handles.limit.record(snapshot.limit)
        handles.inFlight.record(snapshot.inFlight)
    }
}

extension Timer {
    fileprivate func record(duration: Duration) {
        let c = duration.components
        recordNanoseconds(c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000)
    }
}
