internal import CZeroMQ

/// The socket options Metro sets. Each case carries its value with its Swift type;
/// `Socket.set(_:)` passes it to libzmq with the exact C size libzmq expects
/// (an `Int` where libzmq wants an `int` is EINVAL).
public enum SocketOption: Sendable {
    /// Messages queued for sending before the pattern's HWM action (drop or block).
    case sendHighWaterMark(Int)
    /// Messages queued on receipt before the socket stops reading from the peer.
    case receiveHighWaterMark(Int)
    /// How long `close` keeps unsent messages; never -1 in Metro.
    case linger(milliseconds: Int)
    /// This socket's identity as seen by a ROUTER peer (1...255 bytes, not starting with 0).
    case routingID([UInt8])
    /// Receive timeout; -1 blocks forever.
    case receiveTimeout(milliseconds: Int)
    /// Send timeout; -1 blocks forever.
    case sendTimeout(milliseconds: Int)
    /// Peers sending a larger frame are disconnected; -1 means no limit.
    case maxMessageSize(Int)
    /// Queue messages only to completed connections.
    case immediate(Bool)
    /// ROUTER: fail with `.hostUnreachable` instead of silently dropping a message to an unknown peer.
    case routerMandatory(Bool)
    /// ROUTER: a new connection with a known routing id takes it over.
    case routerHandover(Bool)
    /// TCP keepalive: -1 system default, 0 off, 1 on.
    case tcpKeepalive(Int)
    /// Seconds idle before the first keepalive probe; -1 system default.
    case tcpKeepaliveIdle(Int)
    /// ZMTP heartbeat: send a PING every interval (0 disables).
    case heartbeatInterval(milliseconds: Int)
    /// ZMTP heartbeat: the time-to-live this side asks the peer to apply to it.
    case heartbeatTTL(milliseconds: Int)
    /// ZMTP heartbeat: close the connection if no traffic within this time after a PING.
    case heartbeatTimeout(milliseconds: Int)
    /// SUB: receive messages whose first frame starts with this prefix.
    case subscribe([UInt8])
    /// SUB: undo one `subscribe` of the same prefix.
    case unsubscribe([UInt8])
    /// XPUB: pass every subscription message upstream, not only new ones.
    case xpubVerbose(Bool)
    /// XPUB: the application decides subscriptions (with `subscribe` on the XPUB).
    case xpubManual(Bool)
    /// XPUB: `trySend` fails at the high-water mark instead of dropping silently.
    case xpubNoDrop(Bool)
    /// XPUB: each new subscriber connection receives this message first.
    case xpubWelcomeMessage([UInt8])
    /// Reconnect after this interval, growing up to `reconnectIntervalMax`.
    case reconnectInterval(milliseconds: Int)
    case reconnectIntervalMax(milliseconds: Int)
    /// Keep only the last message (no multipart).
    case conflate(Bool)
    /// CURVE: act as server (needs `curveSecretKey`).
    case curveServer(Bool)
    /// CURVE: this socket's long-term public key, 40-character Z85.
    case curvePublicKey(String)
    /// CURVE: this socket's long-term secret key, 40-character Z85.
    case curveSecretKey(String)
    /// CURVE client: the server's public key, 40-character Z85.
    case curveServerKey(String)
    /// ZAP (RFC 27): the domain this socket's handshakes name in their requests to
    /// the context's ZAP handler (at most 254 bytes).
    case zapDomain(String)
    /// Kernel socket buffer sizes; -1 leaves the OS default.
    case sendBufferSize(Int)
    case receiveBufferSize(Int)
}

extension Socket {
    /// Sets one option. Throws `.invalidArgument` for a value libzmq rejects.
    public func set(_ option: SocketOption) throws(ZMQError) {
        switch option {
        case .sendHighWaterMark(let v): try setInt(ZMQ_SNDHWM, v, "sndhwm")
        case .receiveHighWaterMark(let v): try setInt(ZMQ_RCVHWM, v, "rcvhwm")
        case .linger(let v): try setInt(ZMQ_LINGER, v, "linger")
        case .routingID(let v): try setBytes(ZMQ_ROUTING_ID, v, "routing id")
        case .receiveTimeout(let v): try setInt(ZMQ_RCVTIMEO, v, "rcvtimeo")
        case .sendTimeout(let v): try setInt(ZMQ_SNDTIMEO, v, "sndtimeo")
        case .maxMessageSize(let v):
            var value = Int64(v)
            try Syscall.mustSucceed("set maxmsgsize") {
                zmq_setsockopt(h, ZMQ_MAXMSGSIZE, &value, MemoryLayout<Int64>.size)
            }
        case .immediate(let v): try setInt(ZMQ_IMMEDIATE, v ? 1 : 0, "immediate")
        case .routerMandatory(let v): try setInt(ZMQ_ROUTER_MANDATORY, v ? 1 : 0, "router mandatory")
        case .routerHandover(let v): try setInt(ZMQ_ROUTER_HANDOVER, v ? 1 : 0, "router handover")
        case .tcpKeepalive(let v): try setInt(ZMQ_TCP_KEEPALIVE, v, "tcp keepalive")
        case .tcpKeepaliveIdle(let v): try setInt(ZMQ_TCP_KEEPALIVE_IDLE, v, "tcp keepalive idle")
        case .heartbeatInterval(let v): try setInt(ZMQ_HEARTBEAT_IVL, v, "heartbeat ivl")
        case .heartbeatTTL(let v): try setInt(ZMQ_HEARTBEAT_TTL, v, "heartbeat ttl")
        case .heartbeatTimeout(let v): try setInt(ZMQ_HEARTBEAT_TIMEOUT, v, "heartbeat timeout")
        case .subscribe(let v): try setBytes(ZMQ_SUBSCRIBE, v, "subscribe")
        case .unsubscribe(let v): try setBytes(ZMQ_UNSUBSCRIBE, v, "unsubscribe")
        case .xpubVerbose(let v): try setInt(ZMQ_XPUB_VERBOSE, v ? 1 : 0, "xpub verbose")
        case .xpubManual(let v): try setInt(ZMQ_XPUB_MANUAL, v ? 1 : 0, "xpub manual")
        case .xpubNoDrop(let v): try setInt(ZMQ_XPUB_NODROP, v ? 1 : 0, "xpub nodrop")
        case .xpubWelcomeMessage(let v): try setBytes(ZMQ_XPUB_WELCOME_MSG, v, "xpub welcome msg")
        case .reconnectInterval(let v): try setInt(ZMQ_RECONNECT_IVL, v, "reconnect ivl")
        case .reconnectIntervalMax(let v): try setInt(ZMQ_RECONNECT_IVL_MAX, v, "reconnect ivl max")
        case .conflate(let v): try setInt(ZMQ_CONFLATE, v ? 1 : 0, "conflate")
        case .curveServer(let v): try setInt(ZMQ_CURVE_SERVER, v ? 1 : 0, "curve server")
        case .curvePublicKey(let k): try setKey(ZMQ_CURVE_PUBLICKEY, k, "curve public key")
        case .curveSecretKey(let k): try setKey(ZMQ_CURVE_SECRETKEY, k, "curve secret key")
        case .curveServerKey(let k): try setKey(ZMQ_CURVE_SERVERKEY, k, "curve server key")
        case .zapDomain(let d): try setBytes(ZMQ_ZAP_DOMAIN, Array(d.utf8), "zap domain")
        case .sendBufferSize(let v): try setInt(ZMQ_SNDBUF, v, "sndbuf")
        case .receiveBufferSize(let v): try setInt(ZMQ_RCVBUF, v, "rcvbuf")
        }
    }

    /// Subscribes a SUB socket to topics starting with `prefix` (UTF-8 bytes; "" is everything).
    public func subscribe(_ prefix: String) throws(ZMQError) {
        try set(.subscribe(Array(prefix.utf8)))
    }

    /// Removes one earlier `subscribe(prefix)` (subscriptions are counted, like libzmq's).
    public func unsubscribe(_ prefix: String) throws(ZMQError) {
        try set(.unsubscribe(Array(prefix.utf8)))
    }

    private func setInt(_ name: Int32, _ value: Int, _ what: String) throws(ZMQError) {
        guard let v = Int32(exactly: value) else {
            throw ZMQError(invalidArgument: "\(value) does not fit a C int", operation: "set \(what)")
        }
        var c = v
        try Syscall.mustSucceed("set \(what)") { zmq_setsockopt(h, name, &c, MemoryLayout<Int32>.size) }
    }

    private func setBytes(_ name: Int32, _ value: [UInt8], _ what: String) throws(ZMQError) {
        let socket = h
        try Syscall.mustSucceed("set \(what)") {
            value.withUnsafeBytes { zmq_setsockopt(socket, name, $0.baseAddress, $0.count) }
        }
    }

    private func setKey(_ name: Int32, _ z85: String, _ what: String) throws(ZMQError) {
        // libzmq takes a Z85 key as a 40-byte string with its NUL (41 bytes), or 32 raw bytes.
        guard z85.utf8.count == 40 else {
            throw ZMQError(
                invalidArgument: "a Z85 key has 40 characters, got \(z85.utf8.count)", operation: "set \(what)")
        }
        var bytes = Array(z85.utf8)
        bytes.append(0)
        try setBytes(name, bytes, what)
    }
}
