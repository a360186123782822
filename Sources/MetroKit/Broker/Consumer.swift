import Foundation
import Logging
import MetroProtocol
import ZeroMQ

/// A member of a durable consumer group (protocol.md §4.10), for async Swift.
///
/// It JOINs the group on the broker's consume socket with a credit window, yields
/// each delivery on `deliveries`, and sends the application's `ack`/`nak`/`extend`
/// decisions, granting one credit back for each ACK or NAK. It heartbeats every
/// interval the broker names in JOINED; if the broker stays silent for 3 intervals,
/// or answers 202 (it restarted and no longer knows this member), it reconnects and
/// joins again, with one log line: the application only sees the stream go on
/// (events it had not ACKed come again, as the broker redelivers them).
///
/// Threading: the DEALER lives on a dedicated I/O thread; the methods here only
/// queue commands and wake it. `close()` leaves the group and ends the thread.
public final class Consumer: Sendable {
    public struct Options: Sendable {
        public var consume: String
        public var group: String
        public var member: String
        /// Used only when this member creates the group (§4.10).
        public var config: GroupCodec.Config
        /// Deliveries in flight at most (the credit window).
        public var window: UInt32 = 100
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
        public var seq: UInt64
        public var attempt: UInt32
        public var event: LiveEvent
    }

    enum Command: Sendable {
        case ack(UInt64), nak(UInt64, delayMs: UInt32), extend(UInt64, ms: UInt32)
    }

    struct State: Sendable {
        var commands: [Command] = []
        var closed = false
        var joins = 0
    }

    public let deliveries: AsyncStream<Delivery>
    let state = Mailbox(State())
    let wake = WakePipe()
    private let finished = DispatchSemaphore(value: 0)

    public init(_ options: Options, context: Context? = nil, logger: Logger = Logger(label: "metro.consumer")) throws {
        let ctx = try context ?? Context(ioThreads: 1, defaultLingerMilliseconds: 0)
        let (stream, continuation) = AsyncStream.makeStream(of: Delivery.self)
        deliveries = stream
        let loop = ConsumerLoop(
            options: options, context: ctx, state: state, wake: wake, continuation: continuation, logger: logger)
        let done = finished
        let thread = Thread {
            loop.run()
            continuation.finish()
            done.signal()
        }
        thread.name = "metro-consumer"
        thread.start()
    }

    deinit { close() }

    public func ack(_ d: Delivery) { send(.ack(d.seq)) }
    /// Gives the event back: redelivered after `delay` (to any member).
    public func nak(_ d: Delivery, delay: Duration = .zero) { send(.nak(d.seq, delayMs: Self.ms(delay))) }
    /// Asks for `by` more time before the ACK deadline (slow work).
    public func extend(_ d: Delivery, by: Duration) { send(.extend(d.seq, ms: Self.ms(by))) }

    /// How many times the member has joined (1 + rejoins after broker restarts).
    public var joins: Int { state.withLock { $0.joins } }

    /// Leaves the group (the broker redelivers what was not ACKed) and stops.
    public func close() {
        let first = state.withLock { s in
            defer { s.closed = true }
            return !s.closed
        }
        guard first else { return }
        wake.wake()
        finished.wait()
    }

    private func send(_ c: Command) {
        state.withLock { $0.commands.append(c) }
        wake.wake()
    }

    static func ms(_ d: Duration) -> UInt32 {
        UInt32(clamping: d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
    }
}
