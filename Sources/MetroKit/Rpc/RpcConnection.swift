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
    /// Request ids of the attempts out on this connection.
    var outstanding: Set<UInt64> = []
    /// The transport said the connection broke, and no handshake has succeeded since.
    var down = false
    /// No longer in the instance list (or gone from the registry): closed as soon as
    /// nothing is outstanding on it.
    var retired = false

    /// I/O thread: makes the DEALER and its monitor and connects.
    init(key: RpcInstanceKey, context: Context, options: RpcClient.Options) throws(ZMQError) {
        self.key = key
        breaker = CircuitBreaker(options.breaker)
        let s = try context.socket(.dealer)
        do {
            try s.set(.linger(milliseconds: 0))
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
            monitor = try s.monitor([.handshakeSucceeded, .disconnected])
            try s.connect(key.endpoint)
        } catch {
            s.close()
            throw error
        }
        dealer = s
    }

    /// Reads the monitor's pending events; returns true if the connection broke.
    func readMonitor() -> Bool {
        var broke = false
        while let e = try? monitor.next(timeoutMilliseconds: 0) {
            if e.kind.contains(.disconnected) {
                down = true
                broke = true
            } else if e.kind.contains(.handshakeSucceeded) {
                down = false
            }
        }
        return broke
    }

    func close() {
        monitor.socket.close()
        dealer.close()
    }
}
