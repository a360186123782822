import Logging
import Metrics
import MetroProtocol
import Synchronization
import ZeroMQ

/// `RpcServer`'s I/O loop, run by its `IOThread`: owns the ROUTER, decodes every
/// message (protocol.md §6.3), answers the frame-level errors, 109 while draining,
/// 401 for an expired deadline and 402 above `maxConcurrent` itself, and starts a
/// task per accepted call. Tasks hand their answer back as a `.reply` command, so
/// the socket is only ever touched here. Made and used on the I/O thread only.
final class RpcServerLoop: IOThreadLoop {
    enum Command: Sendable {
        /// Answer with the bound endpoint (`RpcServer.start()`).
        case bound(CheckedContinuation<String, any Error>)
        /// A handler's answer to the caller behind `routingID`.
        case reply(routingID: [UInt8], RpcReply, expiredBeforeStart: Bool)
        /// Stop taking calls (109), resume `waiter` when no handler runs or `timeout`
        /// passed; then end the thread if `stop`.
        case drain(timeout: Duration, stop: Bool, waiter: CheckedContinuation<Void, Never>?)
        /// A job of a handler's task, under `Options.handlersOnIOThread`.
        case run(UnownedJob)
    }

    private struct Drain {
        var deadline: ContinuousClock.Instant
        var stop: Bool
        var waiters: [CheckedContinuation<Void, Never>]
    }

    let poller = Poller()
    let endpoint: String
    private let router: Socket
    private let routerItem: Int
    private let options: RpcServer.Options
    private let handler: RpcHandler
    private let sink: RpcReplySink
    /// Where handler tasks run: `Options.executor`, or this thread's (`handlersOnIOThread`).
    private let executor: (any TaskExecutor)?
    /// The methods that run on this thread whatever `executor` says (`ioThreadMethods`).
    private let ioThreadMethods: Set<String>
    private let ioExecutor: IOThreadExecutor?
    private let published: Mailbox<RpcServerStats>
    private let logger: Logger
    private var stats = RpcServerStats()
    private var metrics = RpcServerMetrics()
    private var drain: Drain?
    private var badFrameLog = LogLimiter(period: .seconds(1))
    private var wrongInstanceLog = LogLimiter(period: .seconds(1))

    /// I/O thread: makes and binds the ROUTER.
    init(
        options: RpcServer.Options, handler: @escaping RpcHandler, sink: RpcReplySink,
        published: Mailbox<RpcServerStats>, ioExecutor: IOThreadExecutor?, setup: IOThread<RpcServerLoop>.Setup,
        logger: Logger
    ) throws {
        self.options = options
        self.ioExecutor = ioExecutor
        executor = options.handlersOnIOThread ? ioExecutor : options.executor
        ioThreadMethods = options.ioThreadMethods
        self.handler = handler
        self.sink = sink
        self.published = published
        self.logger = logger
        router = try setup.context.socket(.router)
        if let curve = options.curve { try router.makeCurveServer(curve.keys, zapDomain: curve.zapDomain) }
        // A reply to a caller that left fails at once (counted as dropped) instead of vanishing.
        try router.set(.routerMandatory(true))
        try router.set(.maxMessageSize(options.maxBodyBytes + RpcLimits.framingAllowanceBytes))
        try router.set(.sendHighWaterMark(max(1000, options.maxConcurrent * 4)))
        endpoint = try router.bindResolved(options.bind)
        routerItem = poller.add(router)
        poller.add(fileDescriptor: setup.wakeFD)
    }

    /// Until the drain deadline while draining; otherwise until a message or a command.
    var pollTimeoutMilliseconds: Int {
        guard let drain else { return -1 }
        let left = drain.deadline - .now
        return left <= .zero ? 0 : Int(left.inMilliseconds) + 1
    }

    func handle(_ commands: [Command]) throws -> Bool {
        for command in commands {
            switch command {
            case .bound(let c): c.resume(returning: endpoint)
            case .reply(let routingID, let reply, let expired):
                stats.inFlight -= 1
                if expired { stats.expiredBeforeStart += 1 }
                send(routingID, reply)
            case .drain(let timeout, let stop, let waiter):
                let deadline = ContinuousClock.now + timeout
                var d = drain ?? Drain(deadline: deadline, stop: stop, waiters: [])
                d.deadline = min(d.deadline, deadline)
                d.stop = d.stop || stop
                if let waiter { d.waiters.append(waiter) }
                drain = d
                stats.draining = true
            case .run(let job): ioExecutor?.run(job)
            }
        }
        // A bounded batch per turn, so replies and the drain deadline are never starved.
        if poller.isReadable(routerItem) {
            for _ in 0..<512 {
                if options.authorizeMethod != nil {
                    guard let (frames, identity) = try router.receiveMultipart(dontWait: true, metadata: "User-Id")
                    else { break }
                    receive(frames, identity: identity)
                } else {
                    guard let frames = try router.receiveMultipart(dontWait: true) else { break }
                    receive(frames, identity: nil)
                }
            }
        }
        // Published before a drain's waiters resume, so they see the final numbers.
        published.withLock { $0 = stats }
        return checkDrain()
    }

    /// Answers that handlers posted just before a stop still go out; the rest
    /// (`bound`, `drain`) go to `onEnd`.
    func handleBeforeStop(_ commands: [Command]) -> [Command] {
        commands.filter { command in
            guard case .reply(let routingID, let reply, let expired) = command else { return true }
            stats.inFlight -= 1
            if expired { stats.expiredBeforeStart += 1 }
            send(routingID, reply)
            return false
        }
    }

    /// Every handler still running is abandoned: its answer finds the thread gone.
    func finish() {
        for w in drain?.waiters ?? [] { w.resume() }
        drain = nil
        stats.draining = true
        published.withLock { $0 = stats }
        router.close()
    }

    /// Resumes the drain's waiters once no handler runs (or its time is up); false ends the thread.
    private func checkDrain() -> Bool {
        guard var d = drain else { return true }
        let timedOut = ContinuousClock.now >= d.deadline
        guard stats.inFlight == 0 || timedOut else { return true }
        if stats.inFlight > 0 {
            logger.warning("rpc drain timed out", metadata: ["in-flight": "\(stats.inFlight)"])
        }
        for w in d.waiters { w.resume() }
        d.waiters = []
        // Drained: the deadline no longer wakes the loop.
        d.deadline = .now + .seconds(86_400 * 365)
        drain = d
        return !d.stop
    }

    private func receive(_ message: [[UInt8]], identity: String?) {
        stats.requests += 1
        metrics.requests.increment()
        let routingID = message[0]
        let frames = Array(message.dropFirst())
        let request: RpcRequest
        switch RpcRequest.decode(frames, maxBodyBytes: options.maxBodyBytes) {
        case .failure(let failure):
            stats.badFrames += 1
            metrics.badFrames.increment()
            if let held = badFrameLog.allow() {
                logger.warning(
                    "bad rpc message", metadata: ["error": "\(failure.error)", "suppressed": "\(held)"])
            }
            send(routingID, failure.reply)
            return
        case .success(let r): request = r
        }
        // Before the method's permission: the call was never meant for this server.
        if let own = options.incarnation, let target = request.headers.target, target != own {
            stats.wrongInstance += 1
            if let held = wrongInstanceLog.allow() {
                logger.warning(
                    "an rpc call meant for another incarnation: the caller still knows a dead instance at this port",
                    metadata: ["target": "\(target)", "incarnation": "\(own)", "suppressed": "\(held)"])
            }
            let e = WireError(.wrongInstance, "this endpoint is \(own), not \(target)")
            send(routingID, .error(e, requestID: request.requestID))
            return
        }
        if let authorize = options.authorizeMethod, let refusal = authorize(identity, request.method) {
            stats.forbidden += 1
            send(routingID, .error(refusal, requestID: request.requestID))
            return
        }
        if drain != nil {
            send(
                routingID, .error(WireError(.unavailable, "the server is shutting down"), requestID: request.requestID))
            return
        }
        guard request.deadlineMilliseconds > 0 else {
            stats.expiredBeforeStart += 1
            send(routingID, .error(WireError(.deadlineExceeded, "the deadline was 0 ms"), requestID: request.requestID))
            return
        }
        guard stats.inFlight < options.maxConcurrent else {
            stats.overloaded += 1
            metrics.overloaded.increment()
            let e = WireError(.overloaded, "\(options.maxConcurrent) calls are running; retry elsewhere or later")
            send(routingID, .error(e, requestID: request.requestID))
            return
        }
        stats.inFlight += 1
        start(request, from: routingID)
    }

    /// Runs the handler on a task of its own; its answer comes back as a `.reply` command.
    private func start(_ request: RpcRequest, from routingID: [UInt8]) {
        let now = ContinuousClock.now
        let inbound = RpcInbound(
            method: request.method, requestID: request.requestID, headers: request.headers, body: request.body,
            receivedAt: now, deadline: now + .milliseconds(request.deadlineMilliseconds), logger: logger)
        let handler = self.handler, sink = self.sink
        let work: @Sendable () async -> Void = {
            // The task may start late (a busy pool, a held executor): late work is not started.
            guard ContinuousClock.now < inbound.deadline else {
                let e = WireError(.deadlineExceeded, "the deadline passed before the handler started")
                sink.send(
                    .reply(routingID: routingID, .error(e, requestID: inbound.requestID), expiredBeforeStart: true))
                return
            }
            let reply: RpcReply =
                switch await handler(inbound) {
                case .reply(let body): .reply(requestID: inbound.requestID, body: body)
                case .error(let e): .error(e, requestID: inbound.requestID)
                }
            sink.send(.reply(routingID: routingID, reply, expiredBeforeStart: false))
        }
        if let executor = ioThreadMethods.contains(request.method) ? ioExecutor : executor {
            Task(executorPreference: executor) { await work() }
        } else {
            Task { await work() }
        }
    }

    /// Counts and publishes the answer before it goes out, so whoever receives it
    /// finds it in `RpcServer.stats`; an answer ZeroMQ refuses is moved to `dropped`.
    private func send(_ routingID: [UInt8], _ reply: RpcReply) {
        let code = if case .error(let e, _) = reply { String(e.code.rawValue) } else { "ok" }
        stats.replies[code, default: 0] += 1
        published.withLock { $0 = stats }
        // hostUnreachable (ROUTER_MANDATORY) means the caller is gone; false, a full queue.
        if (try? router.trySend(multipart: [routingID] + reply.encode())) == true {
            metrics.reply(code)
            return
        }
        stats.replies[code]! -= 1
        stats.dropped += 1
        metrics.dropped.increment()
        published.withLock { $0 = stats }
    }
}

/// Where handler tasks post their answers: the server's `IOThread`, set once it exists.
final class RpcReplySink: Sendable {
    private let io = Mutex<IOThread<RpcServerLoop>?>(nil)

    func attach(_ thread: IOThread<RpcServerLoop>) { io.withLock { $0 = thread } }

    /// Queues the answer (or a handler's job); dropped, and false, when the thread has
    /// stopped (the caller's own deadline tells it).
    @discardableResult
    func send(_ command: RpcServerLoop.Command) -> Bool {
        io.withLock { $0 }?.send(command) ?? false
    }
}

/// Lets a repeating log line through at most once per period and counts the rest.
package struct LogLimiter: Sendable {
    package let period: Duration
    private var last: ContinuousClock.Instant?
    private var held = 0

    package init(period: Duration) { self.period = period }

    /// Whether to log now; if so, how many lines were held back since the last one.
    package mutating func allow(now: ContinuousClock.Instant = .now) -> Int? {
        if let last, now - last < period {
            held += 1
            return nil
        }
        last = now
        defer { held = 0 }
        return held
    }
}
