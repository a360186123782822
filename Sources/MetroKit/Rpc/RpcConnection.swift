import ZeroMQ

/// One instance as the `RpcClientLoop` sees it: its DEALER, the monitor that says
/// when the connection comes and goes, its circuit breaker and its outstanding calls.
/// Made, used and closed on the I/O thread only.
final class RpcConnection {
    let key: RpcInstanceKey
    let dealer: Socket
    /// Connection events of `dealer` (handshake done, disconnected): a broken
    /// connection fails the calls out on it at once instead of leaving them to their
    /// deadline, which is the only other way a DEALER would ever notice.
    let monitor: SocketMonitor
    var breaker: CircuitBreaker
    /// Request ids of the attempts out on this connection (parked ones included).
    var outstanding: Set<UInt64> = []
    /// Where the connection stands, from the monitor's events.
    var status = RpcConnectionStatus()
    /// Attempts waiting for the first handshake, with their frames. The DEALER has
    /// `ZMQ_IMMEDIATE` set, so libzmq queues nothing for a connection that is not up:
    /// a call parked here has certainly not left the process.
    var parked: [(requestID: UInt64, frames: [[UInt8]])] = []
    var state: RpcConnectionStatus.State { status.state }
    /// The ZAP status (400) with which the instance refused this client's CURVE key
    /// at the last handshake; nil once one succeeds. libzmq 4.3 does not retry it.
    var keyRefusal: Int32? { status.keyRefusal }
    var down: Bool { state == .down }
    /// No longer in the instance list (or gone from the registry): closed as soon as
    /// nothing is outstanding on it.
    var retired = false

    /// I/O thread: makes the DEALER and its monitor and connects.
    init(key: RpcInstanceKey, context: Context, options: RpcClient.Options) throws(ZMQError) {
        self.key = key
        breaker = CircuitBreaker(options.breaker)
        let s = try context.socket(.dealer)
        do {
            if let curve = options.curve {
                try s.makeCurveClient(curve)
            } else if let keys = options.curveKeys, let serverKey = key.curvePublicKey {
                // `RpcClientLoop.match` never connects to an instance without a key in this mode.
                try s.makeCurveClient(keys, serverKey: serverKey)
            }
            try s.set(.linger(milliseconds: 0))
            // Queue only to a connection whose handshake is done: a call never waits in
            // libzmq for a peer that may never come (and could run later, after the
            // caller gave up or sent it elsewhere).
            try s.set(.immediate(true))
            try s.set(.sendHighWaterMark(options.sendQueueLimit))
            try s.set(.receiveHighWaterMark(0))
            try s.set(.reconnectInterval(milliseconds: 100))
            try s.set(.reconnectIntervalMax(milliseconds: 1000))
            // A peer that stops answering without closing its TCP connection (SIGSTOP, a
            // lost host) is dropped after the heartbeat timeout, like a disconnect.
            let ivl = Int(options.heartbeatInterval.inMilliseconds)
            if ivl > 0 {
                try s.set(.heartbeatInterval(milliseconds: ivl))
                try s.set(.heartbeatTimeout(milliseconds: ivl * 3))
            }
            monitor = try s.monitor([.handshakeSucceeded, .disconnected, .connectRetried, .handshakeFailedAuth])
            try s.connect(key.endpoint)
        } catch {
            s.close()
            throw error
        }
        dealer = s
    }

    /// Reads the monitor's pending events and returns everything they changed.
    func readMonitor() -> RpcConnectionStatus.Changes {
        var changes = RpcConnectionStatus.Changes()
        while let e = try? monitor.next(timeoutMilliseconds: 0) {
            status.apply(e.kind, value: e.value, to: &changes)
        }
        return status.settle(changes)
    }

    func close() {
        monitor.socket.close()
        dealer.close()
    }
}

/// A connection's state, folded from its monitor's events: pure, so that every
/// order the events can come in one read is tested (RpcConnectionStatusTests).
struct RpcConnectionStatus {
    enum State {
        /// No handshake has succeeded yet: calls wait in `parked`.
        case connecting
        /// The handshake succeeded and the connection has not broken since.
        case up
        /// It broke, or a connect attempt was refused, and no handshake succeeded
        /// since: never picked for a call (it would only wait for its deadline).
        case down
    }

    /// What a read of the monitor changed. More than one can happen in one read:
    /// a break and the reconnect's handshake arrive together when the loop was busy,
    /// and then both must be acted on (the calls out on the broken connection fail
    /// at once; the parked ones go on the new one).
    struct Changes: OptionSet {
        let rawValue: UInt8
        /// Now up: send what is parked.
        static let up = Changes(rawValue: 1)
        /// The connection broke: what was out on it may or may not have run.
        static let broke = Changes(rawValue: 2)
        /// A connect attempt failed: nothing parked was ever sent.
        static let refused = Changes(rawValue: 4)
    }

    private(set) var state = State.connecting
    private(set) var keyRefusal: Int32?

    mutating func apply(_ kind: MonitorEvent.Kind, value: Int32, to changes: inout Changes) {
        if kind.contains(.disconnected) {
            // With ZMQ_IMMEDIATE nothing is sent before a handshake succeeds: a
            // connection that drops before that (a refused key) broke nothing.
            changes.insert(state == .up ? .broke : .refused)
            state = .down
        } else if kind.contains(.connectRetried) {
            if state != .up {
                state = .down
                changes.insert(.refused)
            }
        } else if kind.contains(.handshakeFailedAuth) {
            // The instance's ZAP refused the key: nothing was sent, and no
            // handshake will follow.
            state = .down
            keyRefusal = value
            changes.insert(.refused)
        } else if kind.contains(.handshakeSucceeded) {
            state = .up
            keyRefusal = nil
            changes.insert(.up)
        }
    }

    /// The changes that still hold once the read is done: parked calls are sent,
    /// not failed, when the connection ended up; and they wait when it ended down.
    func settle(_ changes: Changes) -> Changes {
        var settled = changes
        if state == .up { settled.remove(.refused) } else { settled.remove(.up) }
        return settled
    }
}
