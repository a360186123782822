/// A concurrency limit for one upstream service that adapts to the latency it
/// measures, in the manner of TCP Vegas as Netflix's concurrency-limits applies it
/// (`VegasLimit`): the lowest round trip seen recently is the service's latency
/// without queueing (`baseline`); a sample's excess over it estimates how many
/// requests wait in the service's queue,
///
///     queue = limit × (1 − baseline / rtt)
///
/// and the limit grows by one while that queue is short (< `alpha`), shrinks by one
/// while it is long (> `beta`), and falls multiplicatively (× `backoff`) on a drop
/// (a deadline passed, the service said it is overloaded). A request over the limit
/// is refused at once: the gateway sheds it with 429 instead of queueing it.
///
/// A pure value: no clock of its own, no I/O. Time comes in as `now` (any monotonic
/// origin); `ConcurrencyGate` wraps it with a lock and a real clock.
public struct AdaptiveLimit: Sendable, Equatable {
    public struct Configuration: Sendable, Equatable {
        public var initialLimit = 20
        public var minLimit = 1
        public var maxLimit = 500
        /// Queue estimate below which the limit grows.
        public var alpha = 3.0
        /// Queue estimate above which the limit shrinks.
        public var beta = 6.0
        /// The factor a drop multiplies the limit by.
        public var backoff = 0.9
        /// How long a baseline stays valid: after this, the next sample starts a new
        /// one, so a service that became slower for good (a bigger data set) is not
        /// throttled for ever against a latency it no longer has.
        public var baselineWindow: Duration = .seconds(30)

        public init() {}
    }

    /// How a request that held a permit ended.
    public enum Outcome: Sendable, Equatable {
        /// The service answered (a success or a refusal on the merits) after `rtt`.
        case answered(rtt: Duration)
        /// The request's deadline passed, or the service said it is overloaded.
        case dropped
        /// Ended without telling anything about the service's latency (no instance,
        /// an open breaker, the client went away).
        case ignored
    }

    public let configuration: Configuration
    /// Requests allowed in flight at once.
    public private(set) var limit: Int
    /// Requests holding a permit now.
    public private(set) var inFlight = 0
    /// The lowest rtt of the current window; nil before the first sample.
    public private(set) var baseline: Duration?
    private var baselineSince: Duration = .zero

    public init(_ configuration: Configuration = .init()) {
        precondition(configuration.minLimit >= 1 && configuration.minLimit <= configuration.maxLimit)
        self.configuration = configuration
        limit = min(max(configuration.initialLimit, configuration.minLimit), configuration.maxLimit)
    }

    /// Takes a permit if one is free: true means go (call `release` once it ends),
    /// false means shed the request now.
    public mutating func acquire() -> Bool {
        guard inFlight < limit else { return false }
        inFlight += 1
        return true
    }

    /// Returns a permit taken by `acquire` and learns from how the request ended.
    public mutating func release(_ outcome: Outcome, now: Duration) {
        precondition(inFlight > 0, "release without acquire")
        // Netflix's "app-limited" rule: a limit only grows when it is being used,
        // else an idle service would grow it without bound.
        let wasBusy = inFlight * 2 >= limit
        inFlight -= 1
        switch outcome {
        case .ignored:
            return
        case .dropped:
            limit = max(configuration.minLimit, Int((Double(limit) * configuration.backoff).rounded(.down)))
        case .answered(let rtt):
            sample(rtt, now: now, wasBusy: wasBusy)
        }
    }

    private mutating func sample(_ rtt: Duration, now: Duration, wasBusy: Bool) {
        let rtt = max(rtt, .microseconds(1))
        if let b = baseline, now - baselineSince < configuration.baselineWindow {
            if rtt < b { baseline = rtt }
        } else {
            baseline = rtt
            baselineSince = now
        }
        let ratio = Self.seconds(baseline!) / Self.seconds(rtt)
        let queue = Double(limit) * (1 - ratio)
        if queue < configuration.alpha {
            if wasBusy { limit = min(configuration.maxLimit, limit + 1) }
        } else if queue > configuration.beta {
            limit = max(configuration.minLimit, limit - 1)
        }
    }

    private static func seconds(_ d: Duration) -> Double {
        let c = d.components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}
