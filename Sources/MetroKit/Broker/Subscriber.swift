import Foundation
import Logging
import MetroProtocol
import ZeroMQ

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
/// Threading: the SUB (and, for gap filling, a DEALER) live on a dedicated I/O
/// thread, which yields into an `AsyncStream` (without gap filling buffering at
/// most `bufferLimit` events, dropping the oldest: memory stays bounded if the
/// consumer stalls; with gap filling nothing is dropped silently, so the stream is
/// unbounded and `pause()` is the way to stop reading). `close()` ends the thread.
public final class Subscriber: Sendable {
    public struct Options: Sendable {
        public var events: String
        public var prefixes: [String]
        public var includeHeartbeats = false
        public var bufferLimit = 100_000
        /// The broker's consume endpoint: set it to fill gaps by replay.
        public var consume: String?
        /// Catch up from this seq (0: the earliest held) before the live stream; needs `consume`.
        public var startAt: UInt64?
        /// Replay credit window.
        public var replayWindow: UInt32 = 1000
        /// The SUB socket's receive high-water mark (ZeroMQ's default when nil).
        public var receiveHighWaterMark: Int?
        public init(events: String, prefixes: [String]) {
            self.events = events
            self.prefixes = prefixes
        }
    }

    struct State: Sendable {
        var liveFrom: UInt64?
        var liveWaiters: [CheckedContinuation<UInt64, any Error>] = []
        var headSeq: UInt64 = 0
        var closed = false
        var paused = false
        var ledger = DeliveryLedger()
    }

    public let events: AsyncStream<LiveEvent>
    let state = Mailbox(State())
    let wake = WakePipe()
    private let finished = DispatchSemaphore(value: 0)

    public init(_ options: Options, context: Context? = nil, logger: Logger = Logger(label: "metro.subscriber")) throws
    {
        let ctx = try context ?? Context(ioThreads: 1, defaultLingerMilliseconds: 0)
        let (stream, continuation) = AsyncStream.makeStream(
            of: LiveEvent.self,
            bufferingPolicy: options.consume == nil ? .bufferingNewest(options.bufferLimit) : .unbounded)
        events = stream
        let socket = try ctx.socket(.sub)
        if let hwm = options.receiveHighWaterMark { try socket.set(.receiveHighWaterMark(hwm)) }
        let dealer = try options.consume.map { endpoint throws -> Socket in
            let d = try ctx.socket(.dealer)
            try d.set(.reconnectInterval(milliseconds: 50))
            try d.set(.reconnectIntervalMax(milliseconds: 500))
            try d.connect(endpoint)
            return d
        }
        let token = UUID().uuidString.replacingOccurrences(of: "-", with: "")
        for prefix in options.prefixes { try socket.subscribe(prefix) }
        try socket.subscribe(Topic.heartbeat)
        try socket.subscribe(Hello.topic(token: token))
        try socket.connect(options.events)
        let state = self.state, wake = self.wake, done = finished
        let helloTopic = Hello.topic(token: token)
        // The socket moves to the I/O thread here, once, and is used only there.
        nonisolated(unsafe) let owned = socket
        nonisolated(unsafe) let ownedDealer = dealer
        let thread = Thread {
            Self.loop(
                socket: owned, dealer: ownedDealer, helloTopic: helloTopic, options: options, state: state, wake: wake,
                continuation: continuation, logger: logger)
            done.signal()
        }
        thread.name = "metro-subscriber"
        thread.start()
    }

    deinit { close() }

    /// Waits until the broker has this subscriber's subscriptions; returns the head
    /// seq at that moment (events with larger seqs are covered).
    public func waitUntilLive(timeout: Duration = .seconds(10)) async throws -> UInt64 {
        try await withThrowingTaskGroup(of: UInt64.self) { group in
            group.addTask {
                try await withCheckedThrowingContinuation { c in
                    let now: UInt64?? = self.state.withLock { s in
                        if s.closed { return .some(nil) }
                        if let l = s.liveFrom { return .some(l) }
                        s.liveWaiters.append(c)
                        return nil
                    }
                    switch now {
                    case .some(.some(let l)): c.resume(returning: l)
                    case .some(.none): c.resume(throwing: MetroClientError.closed)
                    case .none: break
                    }
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw MetroClientError.timedOut("no hello from the broker within \(timeout)")
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
    }

    /// The latest head seq seen in a heartbeat or hello.
    public var headSeq: UInt64 { state.withLock { $0.headSeq } }

    /// The gap-filling counters (all zero without `consume`).
    public var ledger: DeliveryLedger { state.withLock { $0.ledger } }

    /// Stops reading live events (they pile up in ZeroMQ and are dropped at the
    /// high-water marks); `resume()` reads again, and gap filling recovers the drops.
    public func pause() { state.withLock { $0.paused = true } }

    public func resume() {
        state.withLock { $0.paused = false }
        wake.wake()
    }

    public func close() {
        let first = state.withLock { s in
            defer { s.closed = true }
            return !s.closed
        }
        guard first else { return }
        wake.wake()
        finished.wait()
    }

    private static func loop(
        socket: Socket, dealer: Socket?, helloTopic: String, options: Options, state: Mailbox<State>, wake: WakePipe,
        continuation: AsyncStream<LiveEvent>.Continuation, logger: Logger
    ) {
        defer {
            socket.close()
            dealer?.close()
            continuation.finish()
            let waiters = state.withLock { s in
                defer { s.liveWaiters.removeAll() }
                return s.liveWaiters
            }
            for w in waiters { w.resume(throwing: MetroClientError.closed) }
        }
        let poller = Poller()
        poller.add(socket)
        poller.add(fileDescriptor: wake.readFD)
        if let dealer { poller.add(dealer) }
        // While paused the SUB is left out of the poll (it stays readable).
        let pausedPoller = Poller()
        pausedPoller.add(fileDescriptor: wake.readFD)
        if let dealer { pausedPoller.add(dealer) }
        var filler = dealer.map { _ in
            GapFiller(prefixes: options.prefixes.map { Array($0.utf8) }, window: options.replayWindow)
        }
        func carryOut(_ actions: [GapFiller.Action]) throws {
            // The ledger first: whoever sees these events also sees their counts.
            if let f = filler { state.withLock { $0.ledger = f.ledger } }
            for a in actions {
                switch a {
                case .deliver(let e): continuation.yield(e)
                case .send(let frames): _ = try dealer?.trySend(multipart: frames)
                }
            }
        }
        do {
            while true {
                let wasPaused = state.withLock { $0.paused }
                try (wasPaused ? pausedPoller : poller).poll(timeoutMilliseconds: 200)
                wake.drain()
                let (closed, paused) = state.withLock { ($0.closed, $0.paused) }
                if closed { return }
                let now = BrokerClock.now()
                if let dealer {
                    while let frames = try dealer.receiveMultipart(dontWait: true) {
                        if let reply = ReplayCodec.decodeReply(frames) { try carryOut(filler!.replay(reply, now: now)) }
                    }
                    try carryOut(filler!.tick(now: now))
                }
                var n = 0
                while !paused, n < 1024, let frames = try socket.receiveMultipart(dontWait: true) {
                    n += 1
                    guard let event = LiveEvent(frames: frames) else { continue }
                    if event.topic == helloTopic {
                        try? socket.unsubscribe(helloTopic)
                        let waiters = state.withLock { s in
                            s.liveFrom = event.seq
                            s.headSeq = max(s.headSeq, event.seq)
                            defer { s.liveWaiters.removeAll() }
                            return s.liveWaiters
                        }
                        for w in waiters { w.resume(returning: event.seq) }
                        if filler != nil {
                            try carryOut(filler!.start(liveFrom: event.seq, startAt: options.startAt, now: now))
                        }
                    } else if event.topic.hasPrefix(Hello.prefix) {
                        continue  // another subscriber's hello
                    } else if event.isHeartbeat {
                        state.withLock { $0.headSeq = max($0.headSeq, event.seq) }
                        if options.includeHeartbeats { continuation.yield(event) }
                        if filler != nil { try carryOut(filler!.heartbeat(head: event.seq, now: now)) }
                    } else if filler != nil {
                        try carryOut(filler!.live(event, now: now))
                    } else {
                        continuation.yield(event)
                    }
                }
            }
        } catch {
            logger.error("subscriber I/O thread failed: \(error)")
        }
    }
}

/// Wall-clock nanoseconds, for the gap filler's timeouts.
enum BrokerClock {
    static func now() -> UInt64 {
        UInt64(Date().timeIntervalSince1970 * 1_000_000_000)
    }
}
