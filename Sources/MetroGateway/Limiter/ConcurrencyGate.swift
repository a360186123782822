import Synchronization

/// `AdaptiveLimit` behind a lock, with a clock: what a request handler uses. A
/// permit remembers when it was taken, so the round trip it reports is measured
/// here, around the whole upstream call (queueing in the rpc client included).
///
/// Threading: `Sendable`; every method holds the lock for a few instructions.
public final class ConcurrencyGate: Sendable {
    /// A taken permit; hand it back to `release` exactly once.
    public struct Permit: Sendable {
        let takenAt: Duration
    }

    /// A snapshot for metrics and tests.
    public struct Snapshot: Sendable, Equatable {
        public var limit: Int
        public var inFlight: Int
        /// The smoothed round trip and its baseline, seconds (nil before the first answer).
        public var smoothedRtt: Double?
        public var baselineRtt: Double?
    }

    public let service: String
    private let state: Mutex<AdaptiveLimit>
    private let clock: @Sendable () -> Duration

    /// `clock` returns monotonic time from any fixed origin (tests pass their own).
    public init(
        service: String, configuration: AdaptiveLimit.Configuration = .init(),
        clock: @escaping @Sendable () -> Duration = ConcurrencyGate.monotonic
    ) {
        self.service = service
        state = Mutex(AdaptiveLimit(configuration))
        self.clock = clock
    }

    /// A permit, or nil when the limit is reached (shed the request).
    public func acquire() -> Permit? {
        let now = clock()
        return state.withLock { $0.acquire() } ? Permit(takenAt: now) : nil
    }

    /// Returns `permit`; `answered` requests report their round trip, measured now.
    /// Returns the state after it (for the gauges: no second trip through the lock).
    @discardableResult
    public func release(_ permit: Permit, _ outcome: Outcome) -> Snapshot {
        let now = clock()
        let limitOutcome: AdaptiveLimit.Outcome =
            switch outcome {
            case .answered: .answered(rtt: now - permit.takenAt, at: now)
            case .dropped: .dropped
            case .ignored: .ignored
            }
        return state.withLock {
            $0.release(limitOutcome)
            return Self.snapshot($0)
        }
    }

    /// How an upstream call ended, as the gate needs to know it.
    public enum Outcome: Sendable { case answered, dropped, ignored }

    public var snapshot: Snapshot { state.withLock { Self.snapshot($0) } }

    private static func snapshot(_ l: borrowing AdaptiveLimit) -> Snapshot {
        Snapshot(limit: l.limit, inFlight: l.inFlight, smoothedRtt: l.smoothedRtt, baselineRtt: l.baselineRtt)
    }

    /// Time since an arbitrary origin on the process's monotonic clock.
    public static let monotonic: @Sendable () -> Duration = {
        ContinuousClock.now - origin
    }
    private static let origin = ContinuousClock.now
}
