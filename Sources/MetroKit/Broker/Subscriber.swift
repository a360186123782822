import Foundation
public import Logging
public import MetroProtocol
public import ServiceLifecycle
public import ZeroMQ

/// Receives live events from a broker's events (XPUB) socket (protocol.md §4.4).
///
/// It subscribes to `prefixes` and then to a private `$metro.hello.<token>` topic;
/// the broker answers the hello once it has seen the subscriptions, with its head
/// seq. `waitUntilLive()` returns that seq: every matching event with a larger seq
/// is delivered (or shows as a gap if it was dropped at a high-water mark). No
/// "slow joiner" sleep is needed. Heartbeats update `headSeq` and, with
/// `includeHeartbeats`, appear in `events`.
///
/// With `consume` set it also fills gaps (protocol.md §4.9): a seq jump on its
/// topics or a heartbeat head past what it has seen starts a replay of that range
/// from the journal; live events wait meanwhile, and the application gets every
/// event in seq order without duplicates. `startAt` catches up from the journal
/// first (0: the earliest event held). `ledger` counts what was suspected, filled,
/// recovered, dropped as a duplicate, and lost because the journal no longer had it.
///
/// Threading: the SUB (and, for gap filling, a DEALER) live on the subscriber's
/// `IOThread` (its rule applies), which yields into an `AsyncStream` (without gap
/// filling buffering at most `bufferLimit` events, dropping the oldest: memory stays
/// bounded if the consumer stalls; with gap filling nothing is dropped silently, so
/// the stream is unbounded and `pause()` is the way to stop reading). The thread
/// starts on first use (`events`, `waitUntilLive()`, or `run()` as a `Service`);
/// `close()` ends it and the stream.
public final class Subscriber: Service, Sendable {
    /// What to subscribe to and how to recover; read once, by `init`.
    public struct Options: Sendable {
        /// The broker's events (XPUB) endpoint.
        public var events: String
        /// Topic prefixes to receive (ZeroMQ filters by prefix at the broker); "" is every topic.
        public var prefixes: [String]
        /// Also yield the broker's heartbeats (topic `$metro.heartbeat`) in `events`;
        /// they always update `headSeq` either way.
        public var includeHeartbeats = false
        /// Without gap filling: events buffered in `events` at most before the oldest are
        /// dropped (memory stays bounded when the reader stalls). Ignored with `consume`.
        public var bufferLimit = 100_000
        /// The broker's consume endpoint: set it to fill gaps by replay.
        public var consume: String?
        /// Catch up from this seq (0: the earliest held) before the live stream; needs `consume`.
        public var startAt: UInt64?
        /// Replay credit window.
        public var replayWindow: UInt32 = 1000
        /// The SUB socket's receive high-water mark (ZeroMQ's default when nil).
        public var receiveHighWaterMark: Int?
        /// CURVE (protocol.md §7): this client's key pair and the broker's public key,
        /// for a broker with `security.curve` on; nil (the default) speaks plain ZMTP.
        public var curve: CurveCredentials?
        /// A live-only subscription; set `consume` (and `startAt`) for gap filling and catch-up.
        public init(events: String, prefixes: [String]) {
            self.events = events
            self.prefixes = prefixes
        }
    }

    /// What callers read or wait for, written by the I/O thread.
    struct State: Sendable {
        var liveFrom: UInt64?
        /// Callers of `waitUntilLive`, by a number of their own, so that one that gives
        /// up (its timeout, or its task cancelled) can leave.
        var liveWaiters: [Int: CheckedContinuation<UInt64, any Error>] = [:]
        var nextWaiter = 0
        var headSeq: UInt64 = 0
        var ended = false
        var ledger = DeliveryLedger()
        /// The prefixes the broker refused (denial notices, protocol.md §4.4.5).
        var denied: [String] = []
        /// Set with the hello when a prefix was refused before it: `waitUntilLive` throws it.
        var refusal: MetroClientError?
    }

    enum Command: Sendable {
        case pause(Bool)
    }

    private let stream: AsyncStream<LiveEvent>
    /// The broker's events endpoint, for the errors that name it.
    private let eventsEndpoint: String
    let state = Mailbox(State())
    let io: IOThread<SubscriberLoop>

    /// Prepares the subscriber; its I/O thread starts on first use (or `run()`).
    public init(_ options: Options, context: Context? = nil, logger: Logger = Logger(label: "metro.subscriber")) throws
    {
        eventsEndpoint = options.events
        let ctx = try context ?? Context(ioThreads: 1, defaultLingerMilliseconds: 0)
        let (stream, continuation) = AsyncStream.makeStream(
            of: LiveEvent.self,
            bufferingPolicy: options.consume == nil ? .bufferingNewest(options.bufferLimit) : .unbounded)
        self.stream = stream
        let state = self.state
        io = IOThread(
            name: "metro-subscriber", context: ctx, logger: logger,
            makeLoop: { setup in
                try SubscriberLoop(
                    options: options, setup: setup, state: state, continuation: continuation, logger: logger)
            },
            onEnd: { _ in
                continuation.finish()
                let waiters = state.withLock { s in
                    s.ended = true
                    defer { s.liveWaiters.removeAll() }
                    return s.liveWaiters.values
                }
                for w in waiters { w.resume(throwing: MetroClientError.closed("subscribe")) }
            })
    }

    /// Asks the I/O thread to stop; never waits. Prefer `close()`.
    deinit { io.requestStop() }

    /// The live events, in the order received (in seq order with gap filling). Starts
    /// the I/O thread; the stream ends when the subscriber closes.
    public var events: AsyncStream<LiveEvent> {
        io.startIfNeeded()
        return stream
    }

    /// Waits until the broker has this subscriber's subscriptions; returns the head
    /// seq at that moment (events with larger seqs are covered). Starts the I/O thread.
    /// Throws `.rejected` when the broker refused one of the prefixes (security on,
    /// an identity without that `subscribe` permission): the others are live, but a
    /// subscriber missing some of its topics should not look healthy.
    /// `deniedPrefixes` says which.
    public func waitUntilLive(timeout: Duration = .seconds(10)) async throws -> UInt64 {
        io.startIfNeeded()
        let endpoint = eventsEndpoint
        return try await withThrowingTaskGroup(of: UInt64.self) { group in
            group.addTask { try await self.liveSeq() }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw MetroClientError(
                    .timedOut, operation: "subscribe",
                    message: "no hello from the broker at \(endpoint) within \(timeout)")
            }
            // The loser is cancelled; the group returns once it has ended, which is at
            // once for both (`liveSeq` leaves the waiters on cancellation).
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// The seq of the hello, once it came; throws `CancellationError` when the task is
    /// cancelled first (its waiter removed), `.closed` when the subscriber ends.
    private func liveSeq() async throws -> UInt64 {
        let id = state.withLock { s in
            defer { s.nextWaiter += 1 }
            return s.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { c in
                let now: Result<UInt64, any Error>? = state.withLock { s in
                    if s.ended { return .failure(MetroClientError.closed("subscribe")) }
                    if let r = s.refusal { return .failure(r) }
                    if let l = s.liveFrom { return .success(l) }
                    // Checked under the lock that `onCancel` takes: a cancellation that
                    // comes later finds the waiter and resumes it.
                    if Task.isCancelled { return .failure(CancellationError()) }
                    s.liveWaiters[id] = c
                    return nil
                }
                if let now { c.resume(with: now) }
            }
        } onCancel: {
            state.withLock { $0.liveWaiters.removeValue(forKey: id) }?.resume(throwing: CancellationError())
        }
    }

    /// The prefixes the broker refused to put in force (protocol.md §4.4.5), in the
    /// order the notices came; empty with security off.
    public var deniedPrefixes: [String] { state.withLock { $0.denied } }

    /// The latest head seq seen in a heartbeat or hello.
    public var headSeq: UInt64 { state.withLock { $0.headSeq } }

    /// The gap-filling counters (all zero without `consume`).
    public var ledger: DeliveryLedger { state.withLock { $0.ledger } }

    /// Stops reading live events (they pile up in ZeroMQ and are dropped at the
    /// high-water marks); `resume()` reads again, and gap filling recovers the drops.
    public func pause() { io.send(.pause(true)) }

    /// Reads live events again after `pause()`; never blocks.
    public func resume() { io.send(.pause(false)) }

    /// Runs the I/O thread until `close()`, graceful shutdown or cancellation
    /// (swift-service-lifecycle `Service`).
    public func run() async throws { await io.run() }

    /// Stops the I/O thread and waits for it (without blocking a thread); `events`
    /// finishes. Safe to call more than once, from any task.
    public func close() async { await io.shutdown() }
}

/// Wall-clock nanoseconds, for the gap filler's timeouts.
enum BrokerClock {
    static func now() -> UInt64 {
        UInt64(Date().timeIntervalSince1970 * 1_000_000_000)
    }
}
