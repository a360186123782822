import Foundation
import Metrics
import MetroKit
import MetroProtocol
import Prometheus

/// `--costs N`: what the gateway's per-request chores cost in this process, in
/// nanoseconds per request, the way it did them before and after the changes of
/// docs/performance.md ("Gateway"): wrk's rates on the shared 2-core machine
/// cannot resolve differences this small, a loop in one process can. Each pair
/// runs the same calls the gateway makes (`GatewayMetrics`, `Upstream.value`,
/// the user routes' ETag) against the Prometheus backend `metro gateway` uses.
enum PerRequestCosts {
    struct User: Codable {
        var id: String
        var displayName: String
        var email: String
        var favouriteTags: [String]
        var createdAtMs: Int64
        var updatedAtMs: Int64
        var version: Int64
    }

    struct UserTag: Decodable {
        var id: String
        var version: Int64
    }

    struct Get: Encodable { var id: String }

    /// The rpc headers object as `WireJSON` encoded it before `RpcHeaders.encode` was written by hand.
    struct Headers: Encodable {
        var requestId: String?
        var traceparent: String?
    }

    struct Key: Hashable, Sendable {
        var route: String
        var method: String
        var status: Int
    }

    static func run(iterations n: Int) {
        MetricsSystem.bootstrap(PrometheusMetricsFactory())
        let route = "/v1/users/{id}"
        let user = Array(
            """
            {"createdAtMs":1764676800000,"displayName":"Bench","email":"bench@example.com",\
            "favouriteTags":["jazz"],"id":"0b6c2f3e-5a1d-4a8e-9c7b-2d4e6f8a0b1c","updatedAtMs":1764676800000,"version":1}
            """.utf8)
        let id = "0b6c2f3e-5a1d-4a8e-9c7b-2d4e6f8a0b1c"

        // The five handles of a request: requests_total, request_duration_seconds,
        // rpc_calls_total and the two gauges of the limit.
        measure("metrics, handles made per request", n) {
            let dims = [("route", route), ("method", "GET"), ("status", String(200))]
            Counter(label: "metro_gateway_requests_total", dimensions: dims).increment()
            Metrics.Timer(label: "metro_gateway_request_duration_seconds", dimensions: dims).recordNanoseconds(
                1_000_000)
            Counter(label: "metro_gateway_rpc_calls_total", dimensions: [("service", "profiles"), ("outcome", "ok")])
                .increment()
            Gauge(label: "metro_gateway_concurrency_limit", dimensions: [("service", "profiles")]).record(20)
            Gauge(label: "metro_gateway_in_flight", dimensions: [("service", "profiles")]).record(1)
        }
        let requests = MetricHandles { (k: Key) in
            let dims = [("route", k.route), ("method", k.method), ("status", String(k.status))]
            return (
                Counter(label: "metro_gateway_requests_total", dimensions: dims),
                Metrics.Timer(label: "metro_gateway_request_duration_seconds", dimensions: dims)
            )
        }
        let calls = MetricHandles { (outcome: String) in
            Counter(
                label: "metro_gateway_rpc_calls_total", dimensions: [("service", "profiles"), ("outcome", outcome)])
        }
        let limits = MetricHandles { (service: String) in
            (
                Gauge(label: "metro_gateway_concurrency_limit", dimensions: [("service", service)]),
                Gauge(label: "metro_gateway_in_flight", dimensions: [("service", service)])
            )
        }
        measure("metrics, handles kept (MetricHandles)", n) {
            let r = requests[Key(route: route, method: "GET", status: 200)]
            r.0.increment()
            r.1.recordNanoseconds(1_000_000)
            calls["ok"].increment()
            let l = limits["profiles"]
            l.0.record(20)
            l.1.record(1)
        }
        measure("ETag, whole User decoded (new decoder)", n) {
            _ = try! JSONDecoder().decode(User.self, from: Data(user)).version
        }
        let decoder = JSONDecoder()
        measure("ETag, id+version decoded (shared decoder)", n) {
            _ = try! decoder.decode(UserTag.self, from: Data(user)).version
        }
        measure("request body, new JSONEncoder", n) {
            _ = Array(try! JSONEncoder().encode(Get(id: id)))
        }
        let encoder = JSONEncoder()
        measure("request body, shared JSONEncoder", n) {
            _ = Array(try! encoder.encode(Get(id: id)))
        }
        let requestID = "7ccbcd6a-cdd3-46b9-97be-4bca3e20ac5d"
        measure("rpc headers, a JSONEncoder per call", n) {
            let headers = JSONEncoder()
            headers.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            _ = Array(try! headers.encode(Headers(requestId: requestID, traceparent: nil)))
        }
        measure("rpc headers, RpcHeaders.encode (by hand)", n) {
            _ = RpcHeaders(requestID: requestID).encode()
        }
        measure("request id, UUID().uuidString.lowercased()", n) {
            _ = UUID().uuidString.lowercased()
        }
        measure("request id, RandomUUID.string()", n) {
            _ = RandomUUID.string()
        }
    }

    static func measure(_ what: String, _ n: Int, _ body: () -> Void) {
        for _ in 0..<min(n, 1000) { body() }
        let start = ContinuousClock.now
        for _ in 0..<n { body() }
        let elapsed = ContinuousClock.now - start
        let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        print(
            what.padding(toLength: 44, withPad: " ", startingAt: 0), String(format: "%8.0f ns/request", ns / Double(n)))
    }
}
