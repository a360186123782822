/// A concurrency limit for one upstream service that adapts to the latency it
/// measures: a gradient limit in the family of TCP Vegas, Netflix's
/// concurrency-limits and Envoy's adaptive concurrency filter, whose yardstick is
/// a smoothed minimum round trip. Each answered request's round trip feeds a
/// short moving average (`smoothedRtt`, over about `smoothedSamples`); the
/// baseline is that average's minimum, which creeps up toward the average with
/// the time constant `baselineWindow` (so a lasting change of the service,
/// e.g. slower queries, becomes the norm in tens of seconds, not in 100 samples):
///
///     gradient = clamp(max(tolerance × baseline, latencyFloor) / smoothedRtt, 0.5, 1)
///     target   = limit × gradient + queueSize
///     limit    = limit × (1 − smoothing) + target × smoothing
///
/// So while latency stays within `tolerance` × its baseline the limit grows (by
/// `queueSize × smoothing` per sample), and beyond that it shrinks until the
/// requests let in no longer queue: at saturation the round trip is the number
/// in flight over the service's throughput (Little's law), so doubling the
/// clients doubles the round trip and the limit settles near
/// `tolerance × baseline × throughput + queueSize`: the extra clients are shed
/// and the served requests keep the latency of the saturated service. With
/// `latencyFloor` above `tolerance × baseline` (a fast service), read the floor
/// for `tolerance × baseline`: the queue may grow to about the floor first.
///
/// A drop (the request's deadline passed, or the service said it is overloaded)
/// multiplies the limit by `backoff`: a stalled service never answers, so drops
/// are all it says. A request over the limit is refused at once and the gateway
/// sheds it with 429 instead of queueing.
///
/// Why not the long-term average of the first version (Netflix's Gradient2, an
/// exponential average over 100 samples): at 2,000 answers/s that average is
/// 50 ms long, so it followed every rise of latency and the gradient never left
/// 1: with twice the saturating connections it shed nothing (issue 17's
/// benchmark, 32 connections: p99 40 ms, no 429). Why not the raw minimum
/// (plain Vegas): on this 2-core machine one lucky sample is several times
/// faster than what a healthy service answers under load, and such a baseline
/// shed 5% of a healthy load; the minimum of a 10-sample average is not lucky.
///
/// A pure value with no clock of its own: the time of each answer is passed in
/// (`ConcurrencyGate` reads its injected clock and keeps this behind a lock).
public struct AdaptiveLimit: Sendable, Equatable {
    public struct Configuration: Sendable, Equatable {
        public var initialLimit = 20
        public var minLimit = 1
        public var maxLimit = 500
        /// How far above its baseline the smoothed rtt may rise before the limit shrinks.
        public var tolerance = 1.5
        /// Requests allowed to queue at the service: the limit's growth per sample comes from it.
        public var queueSize = 4.0
        /// How much of the new target each sample moves the limit.
        public var smoothing = 0.2
        /// The window, in samples, of the short average rtt whose minimum is the baseline.
        public var smoothedSamples = 10
        /// The time constant with which the baseline rises toward the short average.
        public var baselineWindow: Duration = .seconds(30)
        /// The factor a drop multiplies the limit by.
        public var backoff = 0.9
        /// A round trip the limit never shrinks for: while the smoothed rtt stays
        /// under it the gradient is 1, however far above its baseline it is; zero
        /// is the plain gradient. For a fast service: 0.3 ms → 3 ms is queueing no
        /// caller notices, but shedding it costs a 429 per refused request, which
        /// a client that ignores `Retry-After` sends straight back. Measured: the
        /// same served p99 (6–8 ms) and twice the goodput at 32 connections
        /// (docs/performance.md, "A latency floor for the limit"). Drops still back off.
        public var latencyFloor: Duration = .milliseconds(5)

        public init() {}
    }

    /// How a request that held a permit ended.
    public enum Outcome: Sendable, Equatable {
        /// The service answered (a success or a refusal on the merits) after `rtt`,
        /// at `at` (any monotonic time; only differences between answers count).
        case answered(rtt: Duration, at: Duration)
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
    /// The short moving average of the rtt, seconds; nil before the first answer.
    public private(set) var smoothedRtt: Double?
    /// The baseline rtt (the smoothed rtt's slowly rising minimum), seconds.
    public private(set) var baselineRtt: Double?
    /// The limit before rounding down.
    private var estimate: Double
    /// When the last answer came (the baseline's creep is measured from it).
    private var lastAnswer: Duration?

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
        case .answered(let rtt, let at):
            sample(Self.seconds(max(rtt, .microseconds(1))), at: at, appLimited: appLimited)
        }
    }

    private mutating func sample(_ rtt: Double, at now: Duration, appLimited: Bool) {
        let c = configuration
        let smoothed = smoothedRtt.map { $0 + (rtt - $0) * 2 / Double(c.smoothedSamples + 1) } ?? rtt
        smoothedRtt = smoothed
        // An idle gap is not time under load: at most a second of it counts.
        let elapsed = lastAnswer.map { min(max(now - $0, .zero), .seconds(1)) } ?? .zero
        lastAnswer = now
        let baseline: Double
        if let old = baselineRtt, old < smoothed {
            baseline = old + (smoothed - old) * min(1, Self.seconds(elapsed) / Self.seconds(c.baselineWindow))
        } else {
            baseline = smoothed
        }
        baselineRtt = baseline
        guard !appLimited else { return }
        let allowed = max(c.tolerance * baseline, Self.seconds(c.latencyFloor))
        let gradient = min(1, max(0.5, allowed / smoothed))
        let target = estimate * gradient + c.queueSize
        estimate = estimate * (1 - c.smoothing) + target * c.smoothing
        estimate = min(Double(c.maxLimit), max(Double(c.minLimit), estimate))
    }

    static func seconds(_ d: Duration) -> Double {
        let c = d.components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}
