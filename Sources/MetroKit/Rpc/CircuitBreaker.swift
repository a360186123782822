/// One instance's circuit breaker, as a pure state machine: no clock of its own and
/// no I/O. Every method takes `now` from the owner (`RpcClientLoop` passes
/// `ContinuousClock.now`; tests pass instants they move by hand).
///
/// - **closed**: calls go through. It opens after `consecutiveFailures` failures in
///   a row, or when, over the last `rateWindow` outcomes (and at least
///   `minimumCalls` of them), the share of failures reaches `failureRate`.
/// - **open**: calls are refused without a network call until `coolDown` has passed
///   since it opened.
/// - **half-open**: exactly one call (the probe) goes through; its success closes the
///   circuit (with a clean history), its failure opens it again for another `coolDown`.
///
/// An open circuit turns half-open before its cool-down when the instance is heard
/// from (`heard()`, or a success `record`ed while open): an answer to a call the
/// caller already gave up on, sent once a paused or stalled process runs again, or
/// a new handshake on a connection that broke (a pause past the ZMTP heartbeat
/// timeout breaks it, and the late answers are lost with it).
/// Without it, every call in the rest of the cool-down (up to 2 s) failed with
/// `circuit-open` although the instance answered again (the chaos soak counted 165
/// such failures after three pauses in ten minutes). The probe still decides: one
/// call, then closed or open again.
///
/// Only failures that say something about the *instance* count (`RpcFailureKind`):
/// a transport timeout or disconnect, 107 internal-error, 109 unavailable, 402
/// overloaded. The caller's and the domain's errors (403 bad-request, 404 not-found,
/// 405 conflict, 406 handler-failed, 400 unknown-method) prove the instance answers:
/// they count as successes.
public struct CircuitBreaker: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// Failures in a row that open the circuit.
        public var consecutiveFailures: Int
        /// The share of failures (0...1) over the window that opens the circuit.
        public var failureRate: Double
        /// How many of the latest outcomes the rate is computed over.
        public var rateWindow: Int
        /// The rate is not judged on fewer outcomes than this.
        public var minimumCalls: Int
        /// How long an open circuit refuses calls before it lets one probe through.
        public var coolDown: Duration

        public init(
            consecutiveFailures: Int = 5, failureRate: Double = 0.5, rateWindow: Int = 20, minimumCalls: Int = 10,
            coolDown: Duration = .seconds(2)
        ) {
            precondition(consecutiveFailures >= 1 && rateWindow >= 1 && minimumCalls >= 1)
            self.consecutiveFailures = consecutiveFailures
            self.failureRate = failureRate
            self.rateWindow = rateWindow
            self.minimumCalls = minimumCalls
            self.coolDown = coolDown
        }
    }

    public enum State: Hashable, Sendable {
        case closed
        case open(since: ContinuousClock.Instant)
        /// `probing`: the one probe call is out and not yet answered.
        case halfOpen(probing: Bool)
    }

    public let configuration: Configuration
    public private(set) var state: State = .closed
    private var consecutive = 0
    /// The latest outcomes (true: failure), oldest first, at most `rateWindow`.
    private var recent: [Bool] = []
    private var recentFailures = 0

    public init(_ configuration: Configuration = .init()) { self.configuration = configuration }

    /// Whether a call may go to this instance now, without taking the probe slot.
    /// For the balancer, which looks at every instance before it picks one.
    public func isAvailable(now: ContinuousClock.Instant) -> Bool {
        switch state {
        case .closed: true
        case .open(let since): now - since >= configuration.coolDown
        case .halfOpen(let probing): !probing
        }
    }

    /// Takes the right to send one call: always when closed; in half-open (or open
    /// past its cool-down) only the one probe. Returns false when the call must not go.
    public mutating func acquire(now: ContinuousClock.Instant) -> Bool {
        switch state {
        case .closed:
            return true
        case .open(let since):
            guard now - since >= configuration.coolDown else { return false }
            state = .halfOpen(probing: true)
            return true
        case .halfOpen(let probing):
            guard !probing else { return false }
            state = .halfOpen(probing: true)
            return true
        }
    }

    /// Records the outcome of a call that `acquire` let through.
    public mutating func record(failure: Bool, now: ContinuousClock.Instant) {
        switch state {
        case .halfOpen:
            if failure { open(now) } else { reset() }
        case .open:
            // An answer to a call sent before the circuit opened: a success says the
            // instance answers again; a failure adds nothing to an open circuit.
            if !failure { heard() }
        case .closed:
            consecutive = failure ? consecutive + 1 : 0
            recent.append(failure)
            if failure { recentFailures += 1 }
            if recent.count > configuration.rateWindow, recent.removeFirst() { recentFailures -= 1 }
            let rateTripped =
                recent.count >= configuration.minimumCalls
                && Double(recentFailures) >= configuration.failureRate * Double(recent.count)
            if consecutive >= configuration.consecutiveFailures || (failure && rateTripped) { open(now) }
        }
    }

    /// The instance answered a call this side no longer waits for (its deadline
    /// passed, or it was cancelled), with a success or an error that does not count
    /// against it: it reads its socket and runs its handlers again. An open circuit
    /// lets the next call probe at once instead of waiting out its cool-down.
    public mutating func heard() {
        if case .open = state { state = .halfOpen(probing: false) }
    }

    /// A probe that was let through but never sent (the call was cancelled or its
    /// deadline passed first): frees the probe slot so another call can probe.
    public mutating func release() {
        if case .halfOpen(true) = state { state = .halfOpen(probing: false) }
    }

    private mutating func open(_ now: ContinuousClock.Instant) {
        state = .open(since: now)
        consecutive = 0
        recent.removeAll()
        recentFailures = 0
    }

    private mutating func reset() {
        state = .closed
        consecutive = 0
        recent.removeAll()
        recentFailures = 0
    }
}
