import Foundation
import Logging
import MetroProtocol
import ZeroMQ

/// The `Subscriber`'s I/O loop, run by its `IOThread`: owns the SUB socket and, for
/// gap filling, the replay DEALER and the `GapFiller`; answers the hello, tracks the
/// head seq, and yields events into the subscriber's stream. Made and used on the
/// I/O thread only.
final class SubscriberLoop: IOThreadLoop {
    let poller = Poller()
    let pollTimeoutMilliseconds = 200
    private let options: Subscriber.Options
    private let state: Mailbox<Subscriber.State>
    private let continuation: AsyncStream<LiveEvent>.Continuation
    private let socket: Socket
    private let socketItem: Int
    private let dealer: Socket?
    private let helloTopic: String
    /// False when one of the prefixes covers `$metro.denied.` (`""`, `$`, ...): other
    /// subscribers' notices may then come through it, so none is taken as ours.
    private let ownsDenials: Bool
    /// With CURVE: the SUB's handshake outcomes (`HandshakeWatch`).
    private let handshakes: HandshakeWatch?
    private let logger: Logger
    private var filler: GapFiller?
    private var paused = false

    /// I/O thread: makes the sockets, subscribes to the prefixes, the heartbeat and a
    /// private hello topic, and connects.
    init(
        options: Subscriber.Options, setup: IOThread<SubscriberLoop>.Setup, state: Mailbox<Subscriber.State>,
        continuation: AsyncStream<LiveEvent>.Continuation, logger: Logger
    ) throws {
        self.options = options
        self.state = state
        self.continuation = continuation
        self.logger = logger
        ownsDenials = !options.prefixes.contains { DeniedNotice.prefix.hasPrefix($0) }
        let ctx = setup.context
        socket = try ctx.socket(.sub)
        if let curve = options.curve { try socket.makeCurveClient(curve) }
        if let hwm = options.receiveHighWaterMark { try socket.set(.receiveHighWaterMark(hwm)) }
        // On each (re)connect libzmq sends the whole subscription set, in trie order,
        // into a pipe of ZMQ_SNDHWM messages and drops what does not fit without a
        // word: with the default 1,000, a subscriber of more prefixes than that would
        // lose some after every reconnect (found by the fan-out bench, performance.md).
        try socket.set(.sendHighWaterMark(0))
        dealer = try options.consume.map { endpoint throws -> Socket in
            let d = try ctx.socket(.dealer)
            if let curve = options.curve { try d.makeCurveClient(curve) }
            try d.set(.reconnectInterval(milliseconds: 50))
            try d.set(.reconnectIntervalMax(milliseconds: 500))
            try d.connect(endpoint)
            return d
        }
        let token = UUID().uuidString.replacingOccurrences(of: "-", with: "")
        helloTopic = Hello.topic(token: token)
        // Connect first: libzmq sends the subscriptions made before `connect` in
        // byte (trie) order when the connection attaches, and `$metro.hello.` sorts
        // before every prefix starting with a letter or digit, so the hello would
        // reach the broker before them and prove nothing (protocol.md §4.4.2).
        // Made after `connect`, they travel in the order made, the hello last.
        handshakes = try HandshakeWatch.watching(socket, curve: options.curve)
        try socket.connect(options.events)
        try socket.subscribe(DeniedNotice.prefix)
        for prefix in options.prefixes { try socket.subscribe(prefix) }
        try socket.subscribe(Topic.heartbeat)
        try socket.subscribe(helloTopic)
        socketItem = poller.add(socket)
        poller.add(fileDescriptor: setup.wakeFD)
        if let handshakes { poller.add(handshakes.monitor.socket) }
        if let dealer { poller.add(dealer) }
        filler = dealer.map { _ in
            GapFiller(prefixes: options.prefixes.map { Array($0.utf8) }, window: options.replayWindow)
        }
    }

    func handle(_ commands: [Subscriber.Command]) throws -> Bool {
        for case .pause(let p) in commands { paused = p }
        // While paused the SUB is left out of the poll (it stays readable).
        poller.setEvents(paused ? [] : .readable, at: socketItem)
        try readHandshakes()
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
                let (waiters, refusal) = state.withLock { s in
                    s.liveFrom = event.seq
                    s.headSeq = max(s.headSeq, event.seq)
                    if !s.denied.isEmpty {
                        let list = s.denied.map { "'\($0)'" }.joined(separator: ", ")
                        s.refusal = MetroClientError(
                            .rejected, operation: "subscribe",
                            message: "the broker refused the subscription to \(list): this identity may not "
                                + "subscribe to it (110, protocol.md §7.8); the other prefixes are live")
                    }
                    defer { s.liveWaiters.removeAll() }
                    return (s.liveWaiters.values, s.refusal)
                }
                for w in waiters {
                    if let refusal { w.resume(throwing: refusal) } else { w.resume(returning: event.seq) }
                }
                if filler != nil {
                    try carryOut(filler!.start(liveFrom: event.seq, startAt: options.startAt, now: now))
                }
            } else if event.topic.hasPrefix(DeniedNotice.prefix) {
                noteDenial(event)
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
        return true
    }

    /// A refused key (`HandshakeWatch`): `waitUntilLive` throws it from now on, and
    /// whoever waits for the hello gets it at once instead of a timeout.
    private func readHandshakes() throws {
        for case .refused(let status) in try handshakes?.read() ?? [] {
            let error = HandshakeWatch.refusal("subscribe", status: status)
            let waiters: [CheckedContinuation<UInt64, any Error>]? = state.withLock { s in
                guard s.refusal == nil else { return nil }
                s.refusal = error
                defer { s.liveWaiters.removeAll() }
                return Array(s.liveWaiters.values)
            }
            guard let waiters else { continue }
            logger.error("\(error.message); no event will come")
            for w in waiters { w.resume(throwing: error) }
        }
    }

    /// A denial notice (protocol.md §4.4.5): ours when it names one of our prefixes
    /// and no prefix of ours lets other subscribers' notices in. A marker either
    /// way, never an event.
    private func noteDenial(_ event: LiveEvent) {
        let prefix = String(event.topic.dropFirst(DeniedNotice.prefix.count))
        guard ownsDenials, options.prefixes.contains(prefix) else { return }
        let reason = String(decoding: event.payload, as: UTF8.self)
        let isNew = state.withLock { s in
            guard !s.denied.contains(prefix) else { return false }
            s.denied.append(prefix)
            return true
        }
        if isNew { logger.error("the broker refused the subscription to '\(prefix)': \(reason)") }
    }

    /// Closes the sockets; the subscriber's `onEnd` finishes the stream and the waiters.
    func finish() {
        socket.close()
        handshakes?.close()
        dealer?.close()
    }

    private func carryOut(_ actions: [GapFiller.Action]) throws {
        // The ledger first: whoever sees these events also sees their counts.
        if let f = filler { state.withLock { $0.ledger = f.ledger } }
        for a in actions {
            switch a {
            case .deliver(let e): continuation.yield(e)
            case .send(let frames): _ = try dealer?.trySend(multipart: frames)
            case .warn(let text): logger.warning("\(text)")
            }
        }
    }
}
