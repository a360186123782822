package import Logging
package import MetroProtocol
package import ZeroMQ

/// Where the registry sends membership events (protocol.md §5.10). The transport can
/// change (acknowledged publish to the broker's ingest socket, say) behind this protocol.
///
/// Threading: a publisher belongs to the registry's loop thread, which creates nothing
/// else on it and calls `publish` from that thread only. `publish` MUST NOT block.
package protocol MembershipPublisher: AnyObject {
    /// Sends `event` or drops it (counting the drop); never blocks.
    func publish(_ event: MembershipEvent)
    /// Closes the publisher's sockets; called once, on the loop thread, as the loop ends.
    func close()
}

/// Publishes events from a PUB socket that connects to the broker's fire-and-forget
/// XSUB input (`metro broker`'s publish endpoint) as `[topic] [{}] [payload]`.
/// Like every PUB socket it drops events while no subscriber is connected or the
/// high-water mark is reached; subscribers that must not miss changes re-LIST after
/// a gap (§5.10).
package final class ZeroMQMembershipPublisher: MembershipPublisher {
    private let socket: Socket
    private let logger: Logger
    package private(set) var dropped: UInt64 = 0

    /// Connects a PUB socket of `context` to `endpoint`. Call on the thread that will publish,
    /// or before handing the publisher to that thread.
    /// With `curve`, the PUB is a CURVE client of a secure broker (protocol.md §7).
    package init(
        context: Context, endpoint: String, curve: CurveCredentials? = nil, logger: Logger
    ) throws(ZMQError) {
        socket = try context.socket(.pub)
        if let curve { try socket.makeCurveClient(curve) }
        try socket.set(.linger(milliseconds: 200))
        try socket.set(.sendHighWaterMark(10_000))
        try socket.connect(endpoint)
        self.logger = logger
    }

    package func publish(_ event: MembershipEvent) {
        do {
            if try !socket.trySend(multipart: event.encode()) {
                dropped += 1
            }
        } catch {
            dropped += 1
            logger.warning(
                "membership event not published", metadata: ["error": "\(error)", "topic": "\(event.kind.topic)"])
        }
    }

    package func close() { socket.close() }
}

/// Drops every event: the registry runs without a broker (`--broker` not given).
package final class DiscardingMembershipPublisher: MembershipPublisher {
    package init() {}
    package func publish(_ event: MembershipEvent) {}
    package func close() {}
}
