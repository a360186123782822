import ZeroMQ

/// With CURVE on, the outcomes of a client socket's handshakes, read from its
/// socket monitor. A key the server's ZAP handler refuses (not on its allow-list,
/// protocol.md §7.4) is told to the client in no other way: ZeroMQ delivers no
/// message, the sends just queue, and libzmq 4.3 does not retry such a connection.
/// So each MetroKit client that speaks CURVE watches for it and says so, at once,
/// instead of timing out without a reason.
///
/// Threading: the monitor is a socket of the client's I/O thread, like the one it watches.
struct HandshakeWatch {
    enum Outcome: Equatable {
        /// The server's ZAP handler refused the key; `status` is its ZAP status code (400).
        case refused(status: Int32)
        case accepted
    }

    let monitor: SocketMonitor

    /// A watch of `socket`'s handshakes, or nil without CURVE. Call before `connect`.
    static func watching(_ socket: Socket, curve: CurveCredentials?) throws(ZMQError) -> HandshakeWatch? {
        guard curve != nil else { return nil }
        return HandshakeWatch(monitor: try socket.monitor([.handshakeFailedAuth, .handshakeSucceeded]))
    }

    /// The outcomes since the last read, oldest first; never waits.
    func read() throws(ZMQError) -> [Outcome] {
        var outcomes: [Outcome] = []
        while let event = try monitor.next(timeoutMilliseconds: 0) {
            if event.kind.contains(.handshakeFailedAuth) { outcomes.append(.refused(status: event.value)) }
            if event.kind.contains(.handshakeSucceeded) { outcomes.append(.accepted) }
        }
        return outcomes
    }

    func close() { monitor.socket.close() }

    /// The error a refused client reports for `operation`.
    static func refusal(_ operation: String, status: Int32) -> MetroClientError {
        MetroClientError(
            .rejected, operation: operation,
            message: "the broker refused this client's CURVE key (ZAP status \(status)): it is not on the "
                + "broker's allow-list, or the broker's ZAP handler failed (protocol.md §7.4)")
    }
}
