import Logging
import MetroProtocol
import ZeroMQ

/// The `RpcClient`'s I/O loop, run by its `IOThread`: one DEALER per instance
/// (`RpcConnection`), many calls in flight on each, matched to their answers by
/// request id (protocol.md §6). It picks the instance (`RpcBalancer`), keeps each
/// instance's `CircuitBreaker`, retries by `RpcRetryPolicy`, and ends every call: with
/// an answer, at its deadline, when its connection breaks, or when the client closes.
/// Made and used on the I/O thread only.
final class RpcClientLoop: IOThreadLoop {
    enum Command: Sendable {
        case call(RpcCall)
        /// The caller's task was cancelled: stop waiting for the call.
        case cancel(callID: UInt64)
        /// The registry says the instance left (deregistered, expired): fail what is
        /// out on it now and use it no more until it registers again.
        case gone(instance: String, epoch: UInt64)
        /// The registry says the instance (re)registered.
        case registered(instance: String)
    }

    private(set) var poller = Poller()
    private let context: Context
    private let wakeFD: Int32
    private let options: RpcClient.Options
    private let logger: Logger
    private var connections: [RpcInstanceKey: RpcConnection] = [:]
    /// Poller item index → (connection, is its monitor).
    private var items: [Int: (RpcConnection, Bool)] = [:]
    private var pollerStale = false
    /// The attempts out, by request id.
    private var attempts: [UInt64: RpcAttempt] = [:]
    /// A call's current attempt, for cancellation.
    private var attemptOfCall: [UInt64: UInt64] = [:]
    private var nextRequestID: UInt64 = 1
    private var balancer = RpcBalancer()
    /// The instance list the connections were last matched to.
    private var lastTargets: [RpcInstanceKey] = []
    /// Instances the registry said left; left out of stale lists until they register again.
    private var departed: Set<String> = []
    /// Incarnations whose endpoint answered 408 wrong-instance: another process holds
    /// it now. Never called again while the registry still lists them.
    private var misdirected: Set<RpcInstanceKey> = []
    /// Instances skipped for want of a CURVE key (warned once each).
    private var unkeyedWarned: Set<RpcInstanceKey> = []

    init(setup: IOThread<RpcClientLoop>.Setup, options: RpcClient.Options, logger: Logger) {
        context = setup.context
        wakeFD = setup.wakeFD
        self.options = options
        self.logger = logger
        rebuildPoller()
    }

    /// Until the nearest deadline of a call out (at most a second, at least a millisecond).
    var pollTimeoutMilliseconds: Int {
        guard let nearest = attempts.values.lazy.map(\.call.deadline).min() else { return -1 }
        let left = ContinuousClock.now.duration(to: nearest)
        return max(1, min(1000, Int(left.inMilliseconds) + 1))
    }

    func handle(_ commands: [Command]) throws -> Bool {
        readConnections()
        for command in commands {
            switch command {
            case .call(let call): start(call)
            case .cancel(let callID): cancel(callID)
            case .gone(let instance, let epoch): gone(instance, epoch: epoch)
            case .registered(let instance):
                departed.remove(instance)
                lastTargets = []  // match the next list again, even if it looks the same
            }
        }
        expireDeadlines()
        closeRetired()
        if pollerStale { rebuildPoller() }
        return true
    }

    /// Fails every call out with `.closed` and closes the sockets.
    func finish() {
        for (_, a) in attempts { a.call.complete(.failure(.closed(a.call.operation))) }
        attempts = [:]
        attemptOfCall = [:]
        for (_, c) in connections { c.close() }
        connections = [:]
    }

    // MARK: Calls

    private func start(_ call: RpcCall) {
        guard ContinuousClock.now < call.deadline else {
            call.complete(
                .failure(
                    MetroClientError(
                        .deadlineExceeded, operation: call.operation,
                        message: "the deadline passed before the call was sent")))
            return
        }
        match(call.targets)
        send(call, number: 1, tried: [], lastFailure: nil)
    }

    /// Sends attempt `number` of `call` to the best instance it has not tried, or ends
    /// the call when there is none (with the last attempt's failure, if any).
    private func send(
        _ call: RpcCall, number: Int, tried: Set<RpcInstanceKey>,
        lastFailure: (RpcAttemptFailure, RpcInstanceKey, WireError?)?
    ) {
        let now = ContinuousClock.now
        let usable =
            departed.isEmpty && misdirected.isEmpty
            ? call.targets : call.targets.filter { !departed.contains($0.instance) && !misdirected.contains($0) }
        let candidates = usable.compactMap { key in self.connections[key].map { (key, $0) } }
        let picked = balancer.pick(
            candidates.map { key, c in
                RpcBalancer.Candidate(
                    outstanding: c.outstanding.count, available: c.breaker.isAvailable(now: now),
                    tried: tried.contains(key), down: c.down)
            })
        guard case .success(let index) = picked else {
            if let (failure, target, wire) = lastFailure {
                call.complete(.failure(.rpc(failure, call: call, target: target, wire: wire, attempts: number - 1)))
            } else if case .failure(.circuitOpen) = picked {
                call.complete(
                    .failure(
                        MetroClientError(
                            .circuitOpen, operation: call.operation,
                            message: "every instance has an open circuit breaker; nothing was sent")))
            } else {
                call.complete(
                    .failure(
                        MetroClientError(
                            .noInstance, operation: call.operation,
                            message: "no instance is left to call: none is known, or every one is disconnected")))
            }
            return
        }
        let (key, connection) = candidates[index]
        // `isAvailable` said yes on this thread with this `now`, so `acquire` does too.
        let acquired = connection.breaker.acquire(now: now)
        assert(acquired, "the balancer picked an instance whose circuit refuses the call")
        let requestID = nextRequestID
        nextRequestID += 1
        let remaining = now.duration(to: call.deadline)
        let frames = call.frames(
            requestID: requestID, deadlineMilliseconds: UInt32(clamping: max(1, remaining.inMilliseconds)), target: key)
        let attempt = RpcAttempt(call: call, target: key, number: number, tried: tried.union([key]))
        if connection.state == .connecting {
            // Sent when the handshake succeeds; failed as never sent if the connect is refused.
            connection.parked.append((requestID, frames))
            attempts[requestID] = attempt
            attemptOfCall[call.id] = requestID
            connection.outstanding.insert(requestID)
            return
        }
        let sent = (try? connection.dealer.trySend(multipart: frames)) ?? false
        guard sent else {
            connection.breaker.record(failure: true, now: now)
            retryOrFail(attempt, .notSent, wire: nil)
            return
        }
        attempts[requestID] = attempt
        attemptOfCall[call.id] = requestID
        connection.outstanding.insert(requestID)
    }

    /// Removes attempt `requestID` from the books; nil if it already ended.
    private func take(_ requestID: UInt64) -> RpcAttempt? {
        guard let a = attempts.removeValue(forKey: requestID) else { return nil }
        if attemptOfCall[a.call.id] == requestID { attemptOfCall[a.call.id] = nil }
        if let c = connections[a.target] {
            c.outstanding.remove(requestID)
            if !c.parked.isEmpty { c.parked.removeAll { $0.requestID == requestID } }
        }
        return a
    }

    /// An attempt failed: records it against the instance, then retries elsewhere or ends the call.
    private func fail(_ requestID: UInt64, _ failure: RpcAttemptFailure, wire: WireError?) {
        guard let a = take(requestID) else { return }
        connections[a.target]?.breaker.record(failure: failure.countsAgainstInstance, now: .now)
        retryOrFail(a, failure, wire: wire)
    }

    private func retryOrFail(_ a: RpcAttempt, _ failure: RpcAttemptFailure, wire: WireError?) {
        let remaining = ContinuousClock.now.duration(to: a.call.deadline)
        if options.retry.shouldRetry(
            failure, idempotent: a.call.idempotent, attemptsMade: a.number, remaining: remaining)
        {
            send(a.call, number: a.number + 1, tried: a.tried, lastFailure: (failure, a.target, wire))
        } else {
            a.call.complete(.failure(.rpc(failure, call: a.call, target: a.target, wire: wire, attempts: a.number)))
        }
    }

    private func cancel(_ callID: UInt64) {
        guard let requestID = attemptOfCall[callID], let a = take(requestID) else { return }
        // Not an outcome of the instance; a probe that will never be judged frees its slot.
        connections[a.target]?.breaker.release()
        a.call.complete(
            .failure(
                MetroClientError(
                    .cancelled, operation: a.call.operation,
                    message: "the caller's task was cancelled; the call may or may not have run")))
    }

    private func expireDeadlines() {
        let now = ContinuousClock.now
        for (id, a) in attempts where a.call.deadline <= now { fail(id, .timedOut, wire: nil) }
    }

    // MARK: Answers and connection events

    private func readConnections() {
        for (index, (connection, isMonitor)) in items where poller.isReadable(index) {
            if isMonitor {
                let changes = connection.readMonitor()
                if changes.contains(.broke) { broke(connection) }
                if changes.contains(.refused) { refused(connection) }
                if changes.contains(.up) {
                    // A handshake after a break: the instance's process runs again (a
                    // paused one was resumed). An open circuit lets the next call
                    // probe now instead of after its cool-down: the late answers that
                    // would have said so went to the broken connection.
                    connection.breaker.heard()
                    sendParked(connection)
                }
                continue
            }
            while let frames = try? connection.dealer.receiveMultipart(dontWait: true) {
                answer(frames, from: connection)
            }
        }
    }

    private func answer(_ frames: [[UInt8]], from connection: RpcConnection) {
        switch RpcReply.decode(frames) {
        case .success(.reply(let id, _, let body)):
            guard let requestID = BigEndian.uint64(id), let a = take(requestID) else {
                // Late: the call ended here (deadline, cancel) before the answer came.
                connection.breaker.heard()
                return
            }
            connections[a.target]?.breaker.record(failure: false, now: .now)
            a.call.complete(.success(body))
        case .success(.error(let wire, let id?)):
            guard let requestID = BigEndian.uint64(id), attempts[requestID] != nil else {
                if !RpcAttemptFailure.remote(wire.code.rawValue).countsAgainstInstance { connection.breaker.heard() }
                return
            }
            if wire.code == .wrongInstance { markMisdirected(connection, wire) }
            fail(requestID, .remote(wire.code.rawValue), wire: wire)
        case .success(.error(let wire, nil)):
            logger.warning(
                "rpc error without a request id", metadata: ["instance": "\(connection.key)", "error": "\(wire)"])
        case .failure(let e):
            logger.warning("malformed rpc answer", metadata: ["instance": "\(connection.key)", "error": "\(e)"])
        }
    }

    /// The transport said `connection` broke: what was out on it fails now.
    private func broke(_ connection: RpcConnection) {
        logger.debug("rpc connection broke", metadata: ["instance": "\(connection.key)"])
        // Still parked: it came up and broke within one read of the monitor, before
        // they were sent. They never left this process.
        for (requestID, _) in connection.parked { fail(requestID, .notSent, wire: nil) }
        for requestID in connection.outstanding { fail(requestID, .disconnected, wire: nil) }
    }

    /// A connect attempt failed: the parked calls never left this process, so any
    /// of them may go elsewhere.
    private func refused(_ connection: RpcConnection) {
        if let status = connection.keyRefusal {
            logger.error(
                "an rpc instance refused this client's CURVE key: not on its allow-list",
                metadata: ["instance": "\(connection.key)", "zapStatus": "\(status)"])
        } else {
            logger.debug("rpc connect refused", metadata: ["instance": "\(connection.key)"])
        }
        let failure = connection.keyRefusal.map(RpcAttemptFailure.keyRefused) ?? .notSent
        for (requestID, _) in connection.parked { fail(requestID, failure, wire: nil) }
    }

    /// The handshake succeeded: sends what waited for it.
    private func sendParked(_ connection: RpcConnection) {
        let parked = connection.parked
        connection.parked = []
        for (requestID, frames) in parked where attempts[requestID] != nil {
            if (try? connection.dealer.trySend(multipart: frames)) != true { fail(requestID, .notSent, wire: nil) }
        }
    }

    /// The process at `connection`'s endpoint is not the incarnation the registry
    /// lists there (408): that one died and its port was taken. Its connection closes
    /// once nothing is out on it (the calls out there get 408 too, and go elsewhere).
    private func markMisdirected(_ connection: RpcConnection, _ wire: WireError) {
        guard misdirected.insert(connection.key).inserted else { return }
        logger.warning(
            "an rpc endpoint belongs to another process now; not calling that instance again",
            metadata: ["instance": "\(connection.key)", "answer": "\(wire.message)"])
        connection.retired = true
    }

    private func gone(_ instance: String, epoch: UInt64) {
        departed.insert(instance)
        for (key, connection) in connections where key.instance == instance && key.epoch <= epoch {
            connection.retired = true
            for requestID in connection.outstanding { fail(requestID, .disconnected, wire: nil) }
        }
    }

    // MARK: Connections

    /// Opens a connection for each instance of `instances` that has none, and retires
    /// those no longer listed (closed once nothing is out on them).
    private func match(_ targets: [RpcInstanceKey]) {
        guard targets != lastTargets else { return }
        lastTargets = targets
        let wanted = Set(targets)
        // Forget a misdirected incarnation once the registry no longer lists it.
        misdirected.formIntersection(wanted)
        for key in wanted
        where connections[key] == nil && !departed.contains(key.instance) && !misdirected.contains(key) {
            if options.curve == nil, options.curveKeys != nil, key.curvePublicKey == nil {
                // Secure caller, plain instance: never fall back to plain ZMTP.
                if unkeyedWarned.insert(key).inserted {
                    logger.warning(
                        "not calling an rpc instance that registered no curve-public-key",
                        metadata: ["instance": "\(key)"])
                }
                continue
            }
            do {
                connections[key] = try RpcConnection(key: key, context: context, options: options)
                pollerStale = true
            } catch {
                logger.warning(
                    "cannot connect to an rpc instance", metadata: ["instance": "\(key)", "error": "\(error)"])
            }
        }
        for (key, c) in connections {
            c.retired = !wanted.contains(key) || departed.contains(key.instance) || misdirected.contains(key)
        }
    }

    private func closeRetired() {
        for (key, c) in connections where c.retired && c.outstanding.isEmpty {
            c.close()
            connections[key] = nil
            pollerStale = true
        }
    }

    private func rebuildPoller() {
        poller = Poller()
        poller.add(fileDescriptor: wakeFD)
        items = [:]
        for c in connections.values {
            items[poller.add(c.dealer)] = (c, false)
            items[poller.add(c.monitor.socket)] = (c, true)
        }
        pollerStale = false
    }
}
