internal import CZeroMQ

/// Connection lifecycle events that libzmq reports for a socket (`zmq_socket_monitor`).
public struct MonitorEvent: Sendable, Hashable, CustomStringConvertible {
    /// Which events a monitor reports: one kind per event received, or a set of kinds
    /// to ask for (`Socket.monitor`). The values are libzmq's `ZMQ_EVENT_*` bits.
    public struct Kind: OptionSet, Sendable, Hashable {
        /// The `ZMQ_EVENT_*` bits.
        public let rawValue: Int32
        /// Kinds from raw `ZMQ_EVENT_*` bits (as a monitor message carries them).
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// An outgoing connection is up (value: its fd).
        public static let connected = Kind(rawValue: ZMQ_EVENT_CONNECTED)
        /// A connect could not complete at once and goes on in the background (value: errno).
        public static let connectDelayed = Kind(rawValue: ZMQ_EVENT_CONNECT_DELAYED)
        /// A lost or refused connection will be retried (value: the reconnect interval, ms).
        public static let connectRetried = Kind(rawValue: ZMQ_EVENT_CONNECT_RETRIED)
        /// A bind succeeded (value: the listening fd).
        public static let listening = Kind(rawValue: ZMQ_EVENT_LISTENING)
        /// A bind failed (value: errno).
        public static let bindFailed = Kind(rawValue: ZMQ_EVENT_BIND_FAILED)
        /// A peer connected to a bound endpoint (value: its fd).
        public static let accepted = Kind(rawValue: ZMQ_EVENT_ACCEPTED)
        /// Accepting a peer failed, e.g. out of descriptors (value: errno).
        public static let acceptFailed = Kind(rawValue: ZMQ_EVENT_ACCEPT_FAILED)
        /// A connection's fd was closed (value: the fd).
        public static let closed = Kind(rawValue: ZMQ_EVENT_CLOSED)
        /// Closing a connection's fd failed (value: errno).
        public static let closeFailed = Kind(rawValue: ZMQ_EVENT_CLOSE_FAILED)
        /// A peer went away, or libzmq dropped it, e.g. for an oversized message (value: its fd).
        /// The broker counts these per socket (`disconnects` in STATS).
        public static let disconnected = Kind(rawValue: ZMQ_EVENT_DISCONNECTED)
        /// The monitor itself ended (the last event it sends).
        public static let monitorStopped = Kind(rawValue: ZMQ_EVENT_MONITOR_STOPPED)
        /// A ZMTP handshake failed for a reason libzmq does not classify (value: errno).
        public static let handshakeFailedNoDetail = Kind(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        /// A ZMTP handshake (and security mechanism, e.g. CURVE) completed: the peer can talk.
        public static let handshakeSucceeded = Kind(rawValue: ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
        /// The peer broke the ZMTP protocol during the handshake (value: a `ZMQ_PROTOCOL_ERROR_*` code).
        public static let handshakeFailedProtocol = Kind(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        /// The peer failed authentication, e.g. a CURVE key the server refused (value: the ZAP status code).
        public static let handshakeFailedAuth = Kind(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

        /// Any of the three handshake failures.
        public static let handshakeFailed: Kind = [
            .handshakeFailedNoDetail, .handshakeFailedProtocol, .handshakeFailedAuth,
        ]
        /// Every kind libzmq knows (`ZMQ_EVENT_ALL`).
        public static let all = Kind(rawValue: ZMQ_EVENT_ALL)
    }

    /// What happened (exactly one kind).
    public let kind: Kind
    /// The event's value: a file descriptor, an errno, or a reconnect interval, by kind.
    public let value: Int32
    /// The endpoint the event is about.
    public let endpoint: String

    /// `kind endpoint (value)`, for logs.
    public var description: String { "\(kind.name) \(endpoint) (\(value))" }
}

extension MonitorEvent.Kind {
    var name: String {
        switch self {
        case .connected: "connected"
        case .connectDelayed: "connect-delayed"
        case .connectRetried: "connect-retried"
        case .listening: "listening"
        case .bindFailed: "bind-failed"
        case .accepted: "accepted"
        case .acceptFailed: "accept-failed"
        case .closed: "closed"
        case .closeFailed: "close-failed"
        case .disconnected: "disconnected"
        case .monitorStopped: "monitor-stopped"
        case .handshakeFailedNoDetail: "handshake-failed"
        case .handshakeSucceeded: "handshake-succeeded"
        case .handshakeFailedProtocol: "handshake-failed-protocol"
        case .handshakeFailedAuth: "handshake-failed-auth"
        default: "events(\(rawValue))"
        }
    }
}

/// Receives the monitor events of one socket. Like any socket, a `SocketMonitor`
/// belongs to one thread; it may be read on a different thread from the monitored
/// socket (they are two sockets joined over inproc).
public final class SocketMonitor {
    /// The PAIR socket the events arrive on; poll it next to other sockets, on the
    /// thread that owns this monitor.
    public let socket: Socket

    init(socket: Socket) { self.socket = socket }

    /// The next event, or nil if none arrived within `timeoutMilliseconds` (-1: wait forever).
    public func next(timeoutMilliseconds: Int) throws(ZMQError) -> MonitorEvent? {
        try socket.set(.receiveTimeout(milliseconds: timeoutMilliseconds))
        guard let frames = try socket.receiveMultipart(), frames.count == 2, frames[0].count == 6 else { return nil }
        // Frame 1: a 16-bit event number and a 32-bit value, in host byte order.
        let head = frames[0]
        let event = UInt16(head[0]) | UInt16(head[1]) << 8
        let value = UInt32(head[2]) | UInt32(head[3]) << 8 | UInt32(head[4]) << 16 | UInt32(head[5]) << 24
        return MonitorEvent(
            kind: MonitorEvent.Kind(rawValue: Int32(event)),
            value: Int32(bitPattern: value),
            endpoint: String(decoding: frames[1], as: UTF8.self)
        )
    }

    /// Waits until an event of one of `kinds` arrives, skipping others, up to a deadline.
    public func waitFor(_ kinds: MonitorEvent.Kind, timeoutMilliseconds: Int) throws(ZMQError) -> MonitorEvent? {
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(timeoutMilliseconds))
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { return nil }
            let ms = max(1, Int(left.inMilliseconds))
            guard let e = try next(timeoutMilliseconds: ms) else { return nil }
            if !e.kind.isDisjoint(with: kinds) { return e }
        }
    }
}

extension Socket {
    /// Starts monitoring `events` on this socket; returns the reading end. Call on the
    /// socket's owning thread. Linux is little-endian; the event frame is decoded as such.
    public func monitor(_ events: MonitorEvent.Kind = .all) throws(ZMQError) -> SocketMonitor {
        let address = "inproc://metro-monitor-\(UInt(bitPattern: h))-\(UInt64.random(in: 0...UInt64.max))"
        try Syscall.mustSucceed("socket monitor") { zmq_socket_monitor(h, address, events.rawValue) }
        let pair = try context.socket(.pair)
        try pair.set(.linger(milliseconds: 0))
        // libzmq sends monitor events from its I/O thread with a blocking send: once
        // the inproc pipe holds its high-water mark (the two sides' sum, 2,000 by
        // default), the I/O thread stops, and every socket of the context with it,
        // until someone reads. A receive HWM of 0 on the connecting side makes the
        // pipe unbounded, so a monitor read now and then never stalls anything.
        try pair.set(.receiveHighWaterMark(0))
        try pair.connect(address)
        return SocketMonitor(socket: pair)
    }
}
