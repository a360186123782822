import Foundation
import Logging
import MetroProtocol
import ZeroMQ

/// The `Consumer`'s I/O thread: owns the DEALER, joins, heartbeats, relays
/// deliveries and commands, and reconnects when the broker goes silent or forgets
/// the member (protocol.md §4.10).
final class ConsumerLoop: @unchecked Sendable {
    let options: Consumer.Options
    let context: Context
    let state: Mailbox<Consumer.State>
    let wake: WakePipe
    let continuation: AsyncStream<Consumer.Delivery>.Continuation
    let logger: Logger
    var heartbeat: Duration = .seconds(1)

    init(
        options: Consumer.Options, context: Context, state: Mailbox<Consumer.State>, wake: WakePipe,
        continuation: AsyncStream<Consumer.Delivery>.Continuation, logger: Logger
    ) {
        self.options = options
        self.context = context
        self.state = state
        self.wake = wake
        self.continuation = continuation
        self.logger = logger
    }

    func run() {
        do {
            while try session() {}
        } catch {
            logger.error("consumer I/O thread failed: \(error)")
        }
    }

    /// One connection: join, then serve until closed (false) or it must reconnect (true).
    private func session() throws -> Bool {
        let socket = try context.socket(.dealer)
        defer { socket.close() }
        try socket.set(.linger(milliseconds: 200))  // so that LEAVE reaches the broker at close
        try socket.set(.reconnectInterval(milliseconds: 50))
        try socket.set(.reconnectIntervalMax(milliseconds: 500))
        try socket.connect(options.consume)
        let group = options.group
        try socket.send(
            multipart: GroupCodec.Request.join(
                group: group, member: options.member, credit: options.window, config: options.config
            ).frames)
        let poller = Poller()
        poller.add(socket)
        poller.add(fileDescriptor: wake.readFD)
        let clock = ContinuousClock()
        var lastHeard = clock.now, lastSent = clock.now
        var joined = false
        var credit: UInt32 = 0
        while true {
            try poller.poll(timeoutMilliseconds: 50)
            wake.drain()
            let (commands, closed) = state.withLock { s in
                defer { s.commands.removeAll() }
                return (s.commands, s.closed)
            }
            if closed {
                if joined { _ = try? socket.trySend(multipart: GroupCodec.Request.leave(group: group).frames) }
                return false
            }
            for c in commands {
                let request: GroupCodec.Request
                switch c {
                case .ack(let seq): request = .ack(group: group, seq: seq); credit += 1
                case .nak(let seq, let ms): request = .nak(group: group, seq: seq, delayMs: ms); credit += 1
                case .extend(let seq, let ms): request = .extend(group: group, seq: seq, ms: ms)
                }
                _ = try socket.trySend(multipart: request.frames)
            }
            if credit > 0 && joined {
                _ = try socket.trySend(multipart: GroupCodec.Request.grant(group: group, credit: credit).frames)
                credit = 0
            }
            while let frames = try socket.receiveMultipart(dontWait: true) {
                lastHeard = clock.now
                switch GroupCodec.decodeReply(frames) {
                case .joined(let j)?:
                    joined = true
                    heartbeat = .milliseconds(max(10, j.heartbeatMs))
                    let n = state.withLock { s in
                        s.joins += 1
                        return s.joins
                    }
                    if n > 1 { logger.info("rejoined consumer group \(group) after losing the broker") }
                case .deliver(_, let seq, let attempt, let event)?:
                    continuation.yield(.init(seq: seq, attempt: attempt, event: event))
                case .error(let e, _)? where e.code == .unknownGroup:
                    logger.info("the broker no longer knows this member of \(group); joining again")
                    return true
                case .error(let e, _)? where e.code == .unknownDelivery:
                    continue  // an ACK for a delivery of an earlier connection: it is redelivered
                case .error(let e, _)?:
                    logger.error("consumer group \(group): \(e)")
                    if !joined { return false }
                case .heartbeat?, nil:
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
                return true
            }
        }
    }
}
