import Logging
import MetroProtocol
import ZeroMQ

/// Sends one registry request at a time over REQ, the Lazy Pirate way (zguide ch. 4):
/// wait `timeout` for the reply; on silence close the REQ socket (its lockstep is now
/// stuck), open a fresh one on the next endpoint, resend; after `attempts` give up with
/// `unreachable`. A REQ socket is never left waiting for a reply that will not come.
/// With CURVE, a registry whose ZAP handler refuses the key is noticed at once
/// (`HandshakeWatch`): the next endpoint is tried, and if every one refused, the
/// request fails `rejected`, naming the allow-list, instead of `unreachable`.
///
/// Threading: non-Sendable; owned by the client's I/O thread, which alone calls `request`.
final class LazyPirateRequester {
    private let context: Context
    private let configuration: RegistryClient.Configuration
    private let logger: Logger
    private var socket: Socket?
    /// With CURVE: `socket`'s handshake outcomes.
    private var handshakes: HandshakeWatch?
    private var endpointIndex = 0

    init(context: Context, configuration: RegistryClient.Configuration, logger: Logger) {
        self.context = context
        self.configuration = configuration
        self.logger = logger
    }

    /// Sends `request` and returns the registry's reply (OK or ERROR), or why there is none.
    /// `isStopping` is asked before each retry, so closing the client never waits out
    /// the whole retry budget.
    func request(_ request: RegistryRequest, isStopping: () -> Bool = { false }) -> Result<
        RegistryReply, MetroClientError
    > {
        let frames = request.encode()
        let command = request.command
        let operation = "registry \(command.rawValue)"
        var tried: [String] = []
        var refusal: Int32?
        for attempt in 1...configuration.attempts {
            if attempt > 1 && isStopping() {
                return .failure(
                    MetroClientError(.closed, operation: operation, message: "the client closed while retrying"))
            }
            let endpoint = configuration.endpoints[endpointIndex]
            tried.append(endpoint)
            do throws(ZMQError) {
                let s: Socket
                if let existing = socket { s = existing } else { s = try open(endpoint) }
                socket = s
                try s.send(multipart: frames)
                switch try receive(s) {
                case .reply(let reply):
                    switch RegistryReply.decode(reply) {
                    case .success(let r): return .success(r)
                    case .failure(let e):
                        return .failure(MetroClientError(.protocolViolation, operation: operation, message: e.message))
                    }
                case .refused(let status):
                    refusal = status
                    logger.error(
                        "the registry refused this client's CURVE key: not on its allow-list",
                        metadata: ["endpoint": "\(endpoint)", "zapStatus": "\(status)"])
                case .silence:
                    break
                }
            } catch let error where error.code == .contextTerminated {
                reset()
                return .failure(MetroClientError.closed(operation))
            } catch {
                logger.debug("registry attempt failed", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
            }
            // Timed out (or failed): the REQ socket is stuck in its lockstep; drop it.
            logger.debug(
                "registry request timed out",
                metadata: [
                    "command": "\(command.rawValue)", "endpoint": "\(endpoint)", "attempt": "\(attempt)",
                ])
            reset()
            endpointIndex = (endpointIndex + 1) % configuration.endpoints.count
        }
        if let refusal {
            return .failure(
                MetroClientError(
                    .rejected, operation: operation,
                    message: "the registry refused this client's CURVE key (ZAP status \(refusal)): it is not on "
                        + "the registry's allow-list (protocol.md §7.4); tried \(tried.joined(separator: ", "))"))
        }
        // Each endpoint once, in the order tried ("tried A, A" read like a typo).
        var named = Set<String>()
        let endpoints = tried.filter { named.insert($0).inserted }.joined(separator: ", ")
        return .failure(
            MetroClientError(
                .unreachable, operation: operation,
                message: "no reply after \(configuration.attempts) attempts of \(configuration.requestTimeout) "
                    + "from \(endpoints)"))
    }

    /// Closes the REQ socket (on the owning thread).
    func reset() {
        socket?.close()
        socket = nil
        handshakes?.close()
        handshakes = nil
    }

    private enum Received {
        case reply([[UInt8]])
        case refused(Int32)
        case silence
    }

    /// Waits up to the request timeout for the reply, or (with CURVE) for the
    /// registry's refusal of the key, whichever comes first.
    private func receive(_ s: Socket) throws(ZMQError) -> Received {
        guard let handshakes else { return try s.receiveMultipart().map(Received.reply) ?? .silence }
        let poller = Poller()
        let replyItem = poller.add(s)
        poller.add(handshakes.monitor.socket)
        let deadline = ContinuousClock.now + .milliseconds(configuration.timeoutMilliseconds)
        while true {
            let left = Int(ContinuousClock.now.duration(to: deadline).inMilliseconds)
            guard left > 0 else { return .silence }
            _ = try poller.poll(timeoutMilliseconds: left)
            if poller.isReadable(replyItem), let reply = try s.receiveMultipart(dontWait: true) { return .reply(reply) }
            for case .refused(let status) in try handshakes.read() { return .refused(status) }
        }
    }

    private func open(_ endpoint: String) throws(ZMQError) -> Socket {
        let s = try context.socket(.req)
        if let curve = configuration.curve { try s.makeCurveClient(curve) }
        try s.set(.linger(milliseconds: 0))
        try s.set(.receiveTimeout(milliseconds: configuration.timeoutMilliseconds))
        try s.set(.sendTimeout(milliseconds: configuration.timeoutMilliseconds))
        handshakes = try HandshakeWatch.watching(s, curve: configuration.curve)
        try s.connect(endpoint)
        return s
    }
}
