import MetroKit
import Synchronization

/// How often the gateway's per-request warning for a 5xx answer is written: at
/// most once a second per (route, status), with the count of those held back.
///
/// Why: a 5xx comes in floods (every request to a service with no instance left,
/// or past its deadline). One warning per request wrote 7,000–9,700 lines a
/// second with 32 clients and the only instance stopped, each copied again by
/// `metro up` into its log (3.0–3.4 µs of its CPU per request): a log no one
/// could read (docs/performance.md, "The shed path's log"; the gateway's own CPU
/// per answer did not move measurably). Every answer still counts in the metrics
/// (`metro_gateway_requests_total{route,status}`), and the line that is written
/// carries its request's id. 4xx answers are logged at debug, each.
final class FailureLog: Sendable {
    /// Routes × statuses seen; bounded by the route table (and "unmatched").
    private static let maxKeys = 1024
    private let limiters = Mutex<[String: LogLimiter]>([:])
    private let period: Duration

    init(period: Duration = .seconds(1)) { self.period = period }

    /// Whether to write the line for this answer now; if so, how many lines of the
    /// same route and status were held back since the last one.
    func allow(route: String, status: Int, now: ContinuousClock.Instant = .now) -> Int? {
        let key = "\(status) \(route)"
        return limiters.withLock { limiters in
            if limiters[key] == nil {
                if limiters.count >= Self.maxKeys { limiters.removeAll(keepingCapacity: true) }
                limiters[key] = LogLimiter(period: period)
            }
            return limiters[key]!.allow(now: now)
        }
    }
}
