public import Foundation
public import Logging
public import MetroProtocol
public import ServiceLifecycle
public import ZeroMQ

/// A member of a durable consumer group (protocol.md §4.10), for async Swift.
///
/// It JOINs the group on the broker's consume socket with a credit window, yields
/// each delivery on `deliveries`, and sends the application's `ack`/`nak`/`extend`/
/// `reject` decisions, granting one credit back for each ACK, NAK or REJECT
/// (deliveries come packed, and a loop turn's ACKs go out with their credit in one
/// ACKS, §4.10.2, unless `Options.packed` is off). It
/// heartbeats every interval the broker names in JOINED; if the broker stays
/// silent for 3 intervals, or answers 202 (it restarted and no longer knows this
/// member), it reconnects and joins again, with one log line: the application only
/// sees the stream go on (events it had not ACKed come again, as the broker
/// redelivers them).
///
/// Threading: the DEALER lives on the consumer's `IOThread` (its rule applies); the
/// methods here only queue commands and wake it. The thread starts on first use
/// (`deliveries`, `ack`..., or `run()` as a `Service`); `close()` leaves the group and
/// ends it, and `deliveries` finishes.
public final class Consumer: Service, Sendable {
    /// Where the member connects and which group it joins; read once, by `init`.
    public struct Options: Sendable {
        /// The broker's consume (ROUTER) endpoint, e.g. `tcp://127.0.0.1:7704`.
        public var consume: String
        /// The consumer group: every event goes to one member of it (protocol.md §4.10).
        /// 1...64 bytes of `[A-Za-z0-9_-]`; the broker refuses other names.
        public var group: String
        /// This member's name in the group, for the broker's logs and STATS; the host
        /// name by default. Members with the same name are still distinct connections.
        public var member: String
        /// Used only when this member creates the group (§4.10).
        public var config: GroupCodec.Config
        /// Deliveries in flight at most (the credit window).
        public var window: UInt32 = 100
        /// Packed delivery (protocol.md §4.10.2), on by default: the broker sends many
        /// deliveries per DELIVER-PACKED message and this member sends its ACKs of
        /// one loop turn, with the credit they give back, in one ACKS. Off: one
        /// DELIVER, ACK and GRANT per event (what a broker that predates §4.10.2 does
        /// anyway: it does not echo `batchBytes` in JOINED).
        public var packed = true
        /// CURVE (protocol.md §7): this client's key pair and the broker's public key,
        /// for a broker with `security.curve` on; nil (the default) speaks plain ZMTP.
        public var curve: CurveCredentials?
        /// `member` defaults to the host name, `config` to the broker's defaults.
        public init(
            consume: String, group: String, member: String = ProcessInfo.processInfo.hostName,
            config: GroupCodec.Config = .init()
        ) {
            self.consume = consume
            self.group = group
            self.member = member
            self.config = config
        }
    }

    /// One event handed to this member; `attempt` counts deliveries (1 = first).
    public struct Delivery: Sendable, Equatable {
        /// The event's seq in the journal; what `ack`/`nak`/`extend` refer to.
        public var seq: UInt64
        /// 1 for the first delivery, more after an ACK timeout, a NAK or the loss of a
        /// member; at the group's maximum the event goes to the dead-letter topic instead.
        public var attempt: UInt32
        /// The event itself (topic, id, headers, payload).
        public var event: LiveEvent
        /// The group's maximum deliveries, as the broker's JOINED said: the delivery
        /// whose `attempt` reaches it is the last; NAKed or timed out, the event goes
        /// to the dead-letter topic. Nil only if the broker did not say.
        public var maxDeliveries: Int?

        public init(seq: UInt64, attempt: UInt32, event: LiveEvent, maxDeliveries: Int? = nil) {
            self.seq = seq
            self.attempt = attempt
            self.event = event
            self.maxDeliveries = maxDeliveries
        }

        /// Whether this is the group's last delivery of the event (see `maxDeliveries`).
        public var isLastAttempt: Bool { maxDeliveries.map { Int(attempt) >= $0 } ?? false }
    }

    enum Command: Sendable {
        case ack(UInt64), nak(UInt64, delayMs: UInt32), extend(UInt64, ms: UInt32), reject(UInt64, reason: String)

        /// The request this command sends for `group`.
        func request(group: String) -> GroupCodec.Request {
            switch self {
            case .ack(let seq): .ack(group: group, seq: seq)
            case .nak(let seq, let ms): .nak(group: group, seq: seq, delayMs: ms)
            case .extend(let seq, let ms): .extend(group: group, seq: seq, ms: ms)
            case .reject(let seq, let reason): .reject(group: group, seq: seq, reason: reason)
            }
        }

        /// Whether it ends the delivery, and so gives its credit back.
        var endsDelivery: Bool {
            if case .extend = self { false } else { true }
        }
    }

    private let stream: AsyncStream<Delivery>
    private let joinCount = Mailbox(0)
    /// Set by `drain()`; the loop reads it before granting credit.
    private let draining = Mailbox(false)
    private let refused = Mailbox<WireError?>(nil)
    let io: IOThread<ConsumerLoop>

    /// Prepares the member; its I/O thread starts (and JOINs) on first use (or `run()`).
    public init(_ options: Options, context: Context? = nil, logger: Logger = Logger(label: "metro.consumer")) throws {
        let ctx = try context ?? Context(ioThreads: 1, defaultLingerMilliseconds: 0)
        let (stream, continuation) = AsyncStream.makeStream(of: Delivery.self)
        self.stream = stream
        let joins = joinCount
        let draining = self.draining
        let refused = self.refused
        io = IOThread(
            name: "metro-consumer", context: ctx, logger: logger,
            makeLoop: { setup in
                try ConsumerLoop(
                    options: options, setup: setup, joins: joins, draining: draining, refusal: refused,
                    continuation: continuation,
                    logger: logger)
            },
            onEnd: { _ in continuation.finish() })
    }

    /// Asks the I/O thread to stop; never waits. Prefer `close()`.
    deinit { io.requestStop() }

    /// The broker's ERROR that ended the consumer, once `deliveries` has ended
    /// because of one: a JOIN refused (108, 109, 110 for an identity that may not
    /// consume the group's prefixes) or an expulsion after an allow-list reload
    /// (110). Nil while it runs, and when it ended for another reason.
    public var refusal: WireError? { refused.withLock { $0 } }

    /// The deliveries, in the order the broker sent them. Starts the I/O thread; the
    /// stream ends when the consumer closes (or the broker refuses the JOIN).
    public var deliveries: AsyncStream<Delivery> {
        io.startIfNeeded()
        return stream
    }

    /// Acknowledges the delivery: the group will not hand it out again. Call it after
    /// the effect is durable (commit first), never before. Never blocks; any thread.
    public func ack(_ d: Delivery) { io.send(.ack(d.seq)) }
    /// Gives the event back: redelivered after `delay` (to any member).
    public func nak(_ d: Delivery, delay: Duration = .zero) { io.send(.nak(d.seq, delayMs: Self.ms(delay))) }
    /// Asks for `by` more time before the ACK deadline (slow work).
    public func extend(_ d: Delivery, by: Duration) { io.send(.extend(d.seq, ms: Self.ms(by))) }

    /// Ends the delivery now on the group's dead-letter topic, `$metro.dead.<group>`,
    /// with `reason` as the dead letter's `detail` header (REJECT, protocol.md §4.10):
    /// for an event no retry can help (a payload that does not decode, a permanent
    /// handler error), so that it neither waits for `maxDeliveries` NAKs nor loses
    /// the reason. Like `ack`, it never throws and has no answer: a delivery this
    /// member no longer holds (timed out, or from a connection before a rejoin)
    /// comes again, and can be rejected again.
    ///
    /// A reason over 256 bytes of UTF-8 (`GroupCodec.maxReasonBytes`) is cut to the
    /// longest prefix of whole characters that fits, rather than refused: a caller
    /// that is giving up on an event must not be left holding it because its error
    /// message ran long, and the start of a message says the most.
    public func reject(_ d: Delivery, reason: String) { io.send(.reject(d.seq, reason: Self.fit(reason))) }

    /// Stops asking for more, before a graceful `close()`: ACK, NAK and REJECT still
    /// go out, but give no credit back (no GRANT; a JOIN after a reconnect asks for
    /// none), so the broker hands this member nothing new while it finishes what it
    /// holds, and the events waiting go to other members as first deliveries.
    public func drain() {
        draining.withLock { $0 = true }
    }

    /// How many times the member has joined (1 + rejoins after broker restarts).
    package var joins: Int { joinCount.withLock { $0 } }

    /// Runs the I/O thread until `close()`, graceful shutdown or cancellation
    /// (swift-service-lifecycle `Service`).
    public func run() async throws { await io.run() }

    /// Leaves the group (the broker redelivers what was not ACKed), stops the I/O
    /// thread and waits for it without blocking a thread. Safe to call more than once.
    public func close() async { await io.shutdown() }

    static func ms(_ d: Duration) -> UInt32 { UInt32(clamping: d.inMilliseconds) }

    /// `reason` cut to at most `maxReasonBytes` of UTF-8, at a character boundary.
    static func fit(_ reason: String) -> String {
        guard reason.utf8.count > GroupCodec.maxReasonBytes else { return reason }
        var bytes = 0
        var end = reason.startIndex
        for i in reason.indices {
            let next = reason.index(after: i)
            bytes += reason.utf8.distance(from: i, to: next)
            guard bytes <= GroupCodec.maxReasonBytes else { break }
            end = next
        }
        return String(reason[..<end])
    }
}
