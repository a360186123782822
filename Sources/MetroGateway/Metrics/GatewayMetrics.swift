import Metrics

/// The gateway's metrics (issue 17 §6), through swift-metrics: whatever backend
/// the process bootstrapped (`metro gateway`: Prometheus) exports them. Names and
/// labels are in docs/operations.md ("The gateway").
///
/// Threading: `Sendable`; swift-metrics' handles are thread-safe and the backend
/// caches them by name and labels, so making one per request costs a lookup.
public struct GatewayMetrics: Sendable {
    public init() {}

    /// One HTTP request: its route template (`unmatched` when no route matched), method, status and duration.
    func request(route: String, method: String, status: Int, duration: Duration) {
        let dims = [("route", route), ("method", method), ("status", String(status))]
        Counter(label: "metro_gateway_requests_total", dimensions: dims).increment()
        Timer(
            label: "metro_gateway_request_duration_seconds",
            dimensions: [("route", route), ("method", method), ("status", String(status))]
        ).record(duration: duration)
    }

    /// One rpc call (or publish) to an upstream and how it ended (`ok`, `not-found`, `deadline`, ...).
    func upstreamCall(service: String, outcome: String) {
        Counter(label: "metro_gateway_rpc_calls_total", dimensions: [("service", service), ("outcome", outcome)])
            .increment()
    }

    /// One request refused by the gateway itself, before any upstream: `limit`
    /// (the service's concurrency limit), `too-large`, `media-type`.
    func shed(reason: String, service: String) {
        Counter(label: "metro_gateway_shed_total", dimensions: [("reason", reason), ("service", service)])
            .increment()
    }

    /// The adaptive limit and the requests in flight of `service`, after a change.
    func limit(service: String, _ snapshot: ConcurrencyGate.Snapshot) {
        Gauge(label: "metro_gateway_concurrency_limit", dimensions: [("service", service)]).record(snapshot.limit)
        Gauge(label: "metro_gateway_in_flight", dimensions: [("service", service)]).record(snapshot.inFlight)
    }
}

extension Timer {
    fileprivate func record(duration: Duration) {
        let c = duration.components
        recordNanoseconds(c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000)
    }
}
