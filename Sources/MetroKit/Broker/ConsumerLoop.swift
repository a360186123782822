import Foundation
import Logging
import MetroProtocol
import ZeroMQ

/// The `Consumer`'s I/O loop, run by its `IOThread`: owns the DEALER, joins,
/// heartbeats, relays deliveries and commands, and reconnects (a new DEALER, a new
/// JOIN) when the broker goes silent or forgets the member (protocol.md §4.10). Made
/// and used on the I/O thread only.
final class ConsumerLoop: IOThreadLoop {
    let pollTimeoutMilliseconds = 50
    private(set) var poller = Poller()
    private let options: Consumer.Options
    private let context: Context
    private let wakeFD: Int32
    private let joins: Mailbox<Int>
    private let draining: Mailbox<Bool>
    /// The broker's error that ended the consumer (`Consumer.refusal`).
    private let refusal: Mailbox<WireError?>
    private let continuation: AsyncStream<Consumer.Delivery>.Continuation
    private let logger: Logger
    private let clock = ContinuousClock()
    private var heartbeat: Duration = .seconds(1)
    /// The current connection's socket and its state.
    private var socket: Socket
    /// With CURVE: the current socket's handshake outcomes (`HandshakeWatch`).
    private var handshakes: HandshakeWatch?
    private var joined = false
    /// The group's maximum deliveries, from the last JOINED (stamped on each delivery).
    private var maxDeliveries: Int?
    /// Whether the broker answered JOINED with `batchBytes` (§4.10.2), so it takes
    /// ACKS: ACKs go out together with their credit, one message per loop turn.
    private var acksInOne = false
    private var credit: UInt32 = 0
    private var lastHeard: ContinuousClock.Instant
    private var lastSent: ContinuousClock.Instant

    /// I/O thread: opens the first connection and sends JOIN.
    init(
        options: Consumer.Options, setup: IOThread<ConsumerLoop>.Setup, joins: Mailbox<Int>, draining: Mailbox<Bool>,
        refusal: Mailbox<WireError?>,
        continuation: AsyncStream<Consumer.Delivery>.Continuation, logger: Logger
    ) throws {
        self.options = options
        self.context = setup.context
        self.wakeFD = setup.wakeFD
        self.joins = joins
        self.refusal = refusal
        self.draining = draining
        self.continuation = continuation
        self.logger = logger
        lastHeard = clock.now
        lastSent = clock.now
        (socket, handshakes) = try Self.open(options, context)
        try join()
    }

    /// A DEALER connected to the broker's consume socket, and with CURVE the watch
    /// of its handshakes.
    private static func open(_ options: Consumer.Options, _ context: Context) throws -> (Socket, HandshakeWatch?) {
        let s = try context.socket(.dealer)
        if let curve = options.curve { try s.makeCurveClient(curve) }
        try s.set(.linger(milliseconds: 200))  // so that LEAVE reaches the broker at close
        try s.set(.reconnectInterval(milliseconds: 50))
        try s.set(.reconnectIntervalMax(milliseconds: 500))
        let watch = try HandshakeWatch.watching(s, curve: options.curve)
        try s.connect(options.consume)
        return (s, watch)
    }

    /// Closes the current socket and joins again on a fresh one.
    private func reconnect() throws {
        socket.close()
        handshakes?.close()
        (socket, handshakes) = try Self.open(options, context)
        try join()
    }

    /// Sends JOIN on the current socket and starts the connection's state afresh.
    private func join() throws {
        var config = options.config
        if options.packed && config.batchBytes == nil { config.batchBytes = 0 }
        try socket.send(
            multipart: GroupCodec.Request.join(
                group: options.group, member: options.member,
                credit: draining.withLock { $0 } ? 0 : options.window, config: config
            ).frames)
        poller = Poller()
        poller.add(socket)
        poller.add(fileDescriptor: wakeFD)
        if let handshakes { poller.add(handshakes.monitor.socket) }
        joined = false
        acksInOne = false
        credit = 0
        lastHeard = clock.now
        lastSent = clock.now
    }

    func handle(_ commands: [Consumer.Command]) throws -> Bool {
        let group = options.group
        // A refused key never gets an answer: the consumer ends here, saying why,
        // instead of reconnecting every three heartbeats to be refused again.
        for case .refused(let status) in try handshakes?.read() ?? [] {
            logger.error("consumer group \(group): \(HandshakeWatch.refusal("consume", status: status).message)")
            return false
        }
        var acked: [UInt64] = []
        for c in commands {
            if c.endsDelivery { credit &+= 1 }
            if acksInOne, case .ack(let seq) = c {
                acked.append(seq)
                continue
            }
            _ = try socket.trySend(multipart: c.request(group: group).frames)
        }
        let grant = credit > 0 && joined && !draining.withLock({ $0 })
        if !acked.isEmpty {
            // The ACKs of this turn and the credit they give back, in one message each
            // 65,536 seqs; the credit rides on the last.
            var from = 0
            while from < acked.count {
                let to = min(acked.count, from + GroupCodec.maxAcksPerMessage)
                let give: UInt32 = grant && to == acked.count ? credit : 0
                let acks = GroupCodec.Request.acks(group: group, credit: give, seqs: Array(acked[from..<to]))
                _ = try socket.trySend(multipart: acks.frames)
                from = to
            }
            if grant { credit = 0 }
        } else if grant {
            _ = try socket.trySend(multipart: GroupCodec.Request.grant(group: group, credit: credit).frames)
            credit = 0
        }
        while let frames = try socket.receiveMultipart(dontWait: true) {
            lastHeard = clock.now
            switch GroupCodec.decodeReply(frames) {
            case .joined(let j)?:
                joined = true
                maxDeliveries = j.maxDeliveries
                acksInOne = j.batchBytes != nil
                heartbeat = .milliseconds(max(10, j.heartbeatMs))
                let n = joins.withLock { n in
                    n += 1
                    return n
                }
                if n > 1 { logger.info("rejoined consumer group \(group) after losing the broker") }
            case .deliver(_, let seq, let attempt, let event)?:
                continuation.yield(.init(seq: seq, attempt: attempt, event: event, maxDeliveries: maxDeliveries))
            case .deliverPacked(_, let body)?:
                guard let deliveries = body.deliveries() else {
                    // Held by this member all the same: they come again after their ACK timeout.
                    logger.error("consumer group \(group): a damaged DELIVER-PACKED (\(body.count) deliveries) dropped")
                    continue
                }
                for d in deliveries {
                    continuation.yield(
                        .init(seq: d.seq, attempt: d.attempt, event: d.event, maxDeliveries: maxDeliveries))
                }
            case .error(let e, _)? where e.code == .unknownGroup:
                logger.info("the broker no longer knows this member of \(group); joining again")
                try reconnect()
                return true
            case .error(let e, _)? where e.code == .unknownDelivery:
                continue  // an ACK for a delivery of an earlier connection: it is redelivered
            case .error(let e, _)? where e.code == .forbidden && joined:
                // An allow-list reload took this identity's consume permission away
                // and the broker expelled the member (protocol.md §7.7): a JOIN would
                // be refused too, so the consumer ends here, saying why.
                logger.error("consumer group \(group): expelled by the broker: \(e)")
                refusal.withLock { $0 = e }
                return false
            case .error(let e, _)?:
                logger.error("consumer group \(group): \(e)")
                if !joined {
                    refusal.withLock { $0 = e }
                    return false
                }
            // DELETED and SKIPPED answer DELETE and SKIP-DAMAGED, which a member never sends.
            case .heartbeat?, .deleted?, .skipped?, nil:
                continue
            }
        }
        let now = clock.now
        if now - lastSent >= heartbeat {
            _ = try socket.trySend(multipart: GroupCodec.Request.heartbeat(group: group).frames)
            lastSent = now
        }
        if now - lastHeard > heartbeat * 3 {
            logger.info("no answer from the broker for 3 heartbeats; reconnecting to \(options.consume)")
            try reconnect()
        }
        return true
    }

    /// Leaves the group (if joined) and closes the socket, whose linger lets LEAVE go out.
    /// ACK, NAK, EXTEND and REJECT queued before `close()` still go out (before
    /// LEAVE, and the socket's linger lets them reach the broker): "ack, then close"
    /// must not turn the last ACK into a redelivery.
    func handleBeforeStop(_ commands: [Consumer.Command]) -> [Consumer.Command] {
        guard joined else { return commands }
        for c in commands { _ = try? socket.trySend(multipart: c.request(group: options.group).frames) }
        return []
    }

    func finish() {
        if joined { _ = try? socket.trySend(multipart: GroupCodec.Request.leave(group: options.group).frames) }
        socket.close()
        handshakes?.close()
    }
}
