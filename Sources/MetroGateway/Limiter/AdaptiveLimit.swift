/// A concurrency limit for one upstream service that adapts to the latency it
/// measures, after Netflix's concurrency-limits `Gradient2Limit` (itself TCP
/// Vegas's idea with a long-term average instead of the minimum as the yardstick).
/// Each answered request's round trip is compared with the long-term average
/// round trip (an exponential moving average over about `averagedSamples`):
///
///     gradient = clamp(tolerance × longRtt / rtt, 0.5, 1)
///     target   = limit × gradient + queueSize
///     limit    = limit × (1 − smoothing) + target × smoothing
///
/// So while latency stays within `tolerance` × its average the limit grows
/// (by `queueSize × smoothing` per sample), and when it rises beyond that the limit
/// shrinks toward `queueSize / (1 − gradient)`. A drop (the request's deadline passed,
/// or the service said it is overloaded) multiplies the limit by `backoff`: a
/// stalled service never answers, so drops are all it says. A request over the
/// limit is refused at once and the gateway sheds it with 429 instead of queueing.
///
/// Why not plain Vegas (the minimum rtt as the baseline): measured on this
/// 2-core machine, 8 concurrent readers of a healthy profiles service inflate
/// its rtt several-fold over the idle minimum (the gateway, the worker and the
/// clients share the cores), so Vegas's queue estimate held the limit near 6 and
/// shed 5% of a healthy load (GatewayResilienceTests, first version). The
/// long-term average accepts the load the service sustains and reacts to a
/// change of it.
///
/// A pure value: no clock, no I/O. `ConcurrencyGate` measures round trips with
/// its injected clock and keeps this behind a lock.
public struct AdaptiveLimit: Sendable, Equatable {
    public struct Configuration: Sendable, Equatable {
        public var initialLimit = 20
        public var minLimit = 1
        public var maxLimit = 500
        /// How far above its average an rtt may rise before the limit shrinks.
        public var tolerance = 2.0
        /// Requests allowed to queue at the service: the limit's growth per sample comes from it.
        public var queueSize = 4.0
        /// How much of the new target each sample moves the limit.
        public var smoothing = 0.2
        /// The window, in samples, of the long-term average rtt.
        public var averagedSamples = 100
        /// The factor a drop multiplies the limit by.
        public var backoff = 0.9

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
    public var limit: Int { Int(estimate) }
    /// Requests holding a permit now.
    public private(set) var inFlight = 0
    /// The long-term average rtt in seconds; nil before the first answer.
    public private(set) var averageRtt: Double?
    /// The limit before rounding down.
    private var estimate: Double

    public init(_ configuration: Configuration = .init()) {
        precondition(configuration.minLimit >= 1 && configuration.minLimit <= configuration.maxLimit)
        self.configuration = configuration
        estimate = Double(min(max(configuration.initialLimit, configuration.minLimit), configuration.maxLimit))
    }

    /// Takes a permit if one is free: true means go (call `release` once it ends),
    /// false means shed the request now.
    public mutating func acquire() -> Bool {
        guard inFlight < limit else { return false }
        inFlight += 1
        return true
    }

    /// Returns a permit taken by `acquire` and learns from how the request ended.
    public mutating func release(_ outcome: Outcome) {
        precondition(inFlight > 0, "release without acquire")
        // Netflix's "app-limited" rule: less than half the limit in use says
        // nothing about how much more the service could take.
        let appLimited = Double(inFlight) < estimate / 2
        inFlight -= 1
        switch outcome {
        case .ignored:
            return
        case .dropped:
            estimate = max(Double(configuration.minLimit), estimate * configuration.backoff)
        case .answered(let rtt):
            sample(Self.seconds(max(rtt, .microseconds(1))), appLimited: appLimited)
        }
    }

    private mutating func sample(_ rtt: Double, appLimited: Bool) {
        let c = configuration
        var average = averageRtt ?? rtt
        average += (rtt - average) * 2 / Double(c.averagedSamples + 1)
        // Latency fell far below its average (a recovery): let the average catch up
        // faster, or the limit would take hundreds of samples to feel it.
        if average / rtt > c.tolerance { average *= 0.95 }
        averageRtt = average
        guard !appLimited else { return }
        let gradient = min(1, max(0.5, c.tolerance * average / rtt))
        let target = estimate * gradient + c.queueSize
        estimate = estimate * (1 - c.smoothing) + target * c.smoothing
        estimate = min(Double(c.maxLimit), max(Double(c.minLimit), estimate))
    }

    private static func seconds(_ d: Duration) -> Double {
        let c = d.components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}
