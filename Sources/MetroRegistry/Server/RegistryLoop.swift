import Foundation
import Logging
import Metrics
import MetroProtocol
import MetroSecurity
import ZeroMQ

/// The registry's poll loop: a ROUTER socket, the `RegistryState`, and the membership
/// publisher, all owned by one dedicated thread from `run()` to its end.
///
/// ROUTER (not REP) so a slow or dead client never wedges the loop: replies are queued
/// without blocking and a reply to a vanished peer is dropped and counted. The sweeper
/// is the poll timeout: the loop wakes at the earliest lease end (or every sweep
/// interval) and expires leases between requests, so expiry never blocks a request.
final class RegistryLoop {
    private let router: Socket
    private let publisher: any MembershipPublisher
    private let configuration: RegistryServer.Configuration
    private let logger: Logger
    private let clock: @Sendable () -> RegistryState.Instant
    private var state = RegistryState()
    private var stats = RegistryStats()
    /// Encoded LOOKUP replies by service, dropped whenever that service's membership
    /// changes; LOOKUP is the hot path and its reply holds no lease times.
    private var lookupReplies: [String: RegistryReply] = [:]
    private var errorCounters: [String: Counter] = [:]
    private let requestCounter = Counter(label: "metro_registry_requests_total")
    private let expiredCounter = Counter(label: "metro_registry_expired_total")
    /// With CURVE on: who may register which service (protocol.md §7.8); nil: no checks.
    private let access: AccessCache?
    /// Until then LOOKUP says `warming` (`Configuration.warmUpMilliseconds`).
    private let warmUntil: RegistryState.Instant

    init(
        router: Socket, publisher: any MembershipPublisher, configuration: RegistryServer.Configuration,
        logger: Logger, clock: @escaping @Sendable () -> RegistryState.Instant
    ) {
        self.router = router
        self.publisher = publisher
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        warmUntil = clock() + configuration.warmUpMilliseconds * 1_000_000
        access = configuration.security.map {
            AccessCache(AccessControl(authenticator: $0.authenticator, logger: logger))
        }
    }

    /// Serves until the context shuts down, then closes the sockets. Runs on the loop thread.
    func run() {
        defer {
            router.close()
            publisher.close()
        }
        let poller = Poller()
        poller.add(router)
        do {
            while true {
                try poller.poll(timeoutMilliseconds: pollTimeout())
                sweep()
                if poller.isReadable(0) { try drain() }
            }
        } catch let error where error.code == .contextTerminated {
            logger.debug("registry loop stopping")
        } catch {
            logger.critical("registry loop failed", metadata: ["error": "\(error)"])
        }
    }

    private func pollTimeout() -> Int {
        var timeout = configuration.sweepIntervalMilliseconds
        if let next = state.nextExpiry {
            let now = clock()
            let untilNext = next > now ? Int((next - now) / 1_000_000) + 1 : 0
            timeout = min(timeout, untilNext)
        }
        return timeout
    }

    private func sweep() {
        let expired = state.sweep(now: clock())
        guard !expired.isEmpty else { return }
        stats.expired += UInt64(expired.count)
        expiredCounter.increment(by: expired.count)
        let ts = Self.wallClockNanoseconds()
        for r in expired {
            lookupReplies.removeValue(forKey: r.service)
            logger.info("lease expired", metadata: ["instance": "\(r.key)"])
            publisher.publish(MembershipEvent(.expired, r, timestampNanoseconds: ts))
        }
    }

    /// Answers every request waiting now (bounded, so sweeps are never starved).
    private func drain() throws(ZMQError) {
        for _ in 0..<1024 {
            if access == nil {
                guard let frames = try router.receiveMultipart(dontWait: true) else { return }
                handle(frames, userID: nil)
            } else {
                guard let (frames, userID) = try router.receiveMultipart(dontWait: true, metadata: "User-Id") else {
                    return
                }
                handle(frames, userID: userID)
            }
        }
    }

    private func handle(_ frames: [[UInt8]], userID: String?) {
        stats.requests += 1
        requestCounter.increment()
        // REQ peers put an empty delimiter after the routing id; DEALER peers may not.
        let envelopeCount = frames.count >= 2 && frames[1].isEmpty ? 2 : 1
        let envelope = Array(frames.prefix(envelopeCount))
        let body = Array(frames.dropFirst(envelopeCount))
        let reply: RegistryReply
        switch RegistryRequest.decode(body, ttlRange: configuration.ttlRange) {
        case .failure(let error): reply = .error(error)
        case .success(let request): reply = refusal(request, userID: userID) ?? serve(request)
        }
        if case .error(let e) = reply { count(e.code) }
        send(envelope + reply.encode())
    }

    private func serve(_ request: RegistryRequest) -> RegistryReply {
        // Leases that ran out since the last poll go first (one comparison when none did),
        // so the state never holds an expired lease while it answers.
        sweep()
        let now = clock()
        switch request {
        case .register(let r):
            switch state.register(r, now: now) {
            case .failure(let e): return .error(e)
            case .success(let outcome):
                if outcome != .refreshed(changed: false) {
                    lookupReplies.removeValue(forKey: r.service)
                    logger.info("registered", metadata: ["instance": "\(r.key)", "endpoints": "\(r.endpoints)"])
                    publisher.publish(
                        MembershipEvent(.registered, r, timestampNanoseconds: Self.wallClockNanoseconds()))
                }
                return .ok(LeaseGrant(ttlMilliseconds: r.ttlMilliseconds))
            }
        case .heartbeat(let key):
            return state.heartbeat(key, now: now).map { RegistryReply.ok(LeaseGrant(ttlMilliseconds: $0)) }
                .get(orError: RegistryReply.error)
        case .deregister(let key):
            switch state.deregister(key, now: now) {
            case .failure(let e): return .error(e)
            case .success(let r):
                lookupReplies.removeValue(forKey: r.service)
                logger.info("deregistered", metadata: ["instance": "\(r.key)"])
                publisher.publish(MembershipEvent(.deregistered, r, timestampNanoseconds: Self.wallClockNanoseconds()))
                return .ok(EmptyBody())
            }
        case .lookup(let service):
            // Warming: not cached, so that the first reply after the warm-up drops the flag.
            if now < warmUntil {
                var result = state.lookup(service, now: now)
                result.warming = true
                return .ok(result)
            }
            if let cached = lookupReplies[service], now < state.nextExpiry ?? .max { return cached }
            let reply = RegistryReply.ok(state.lookup(service, now: now))
            // Bounded: the names are chosen by clients.
            if lookupReplies.count >= 1024 { lookupReplies.removeAll(keepingCapacity: true) }
            lookupReplies[service] = reply
            return reply
        case .list:
            return .ok(state.list(now: now))
        case .stats:
            var s = stats
            s.instances = state.count
            return .ok(s)
        }
    }

    /// With CURVE on, the 110 a REGISTER, HEARTBEAT or DEREGISTER gets when the
    /// identity's register list does not name its service (counted and logged);
    /// nil when allowed. LOOKUP, LIST and STATS are open to every listed identity:
    /// finding a service is what every client needs.
    private func refusal(_ request: RegistryRequest, userID: String?) -> RegistryReply? {
        guard let access else { return nil }
        let service: String
        switch request {
        case .register(let r): service = r.service
        case .heartbeat(let key), .deregister(let key): service = key.service
        case .lookup, .list, .stats: return nil
        }
        let grant = access.grant(userID: userID)
        if grant.permissions.mayRegister(service) { return nil }
        access.control.denied(.register, identity: grant.identity, service)
        return .error(
            WireError(
                .forbidden, "identity '\(grant.identity)' may not register service '\(service)' (protocol.md §7.8)"))
    }

    private func send(_ frames: [[UInt8]]) {
        do {
            if try !router.trySend(multipart: frames) { count(.unavailable, dropped: true) }
        } catch {
            // The peer left before its reply (hostUnreachable with ROUTER_MANDATORY): drop it.
            count(.unavailable, dropped: true)
            logger.debug("reply dropped", metadata: ["error": "\(error)"])
        }
    }

    private func count(_ code: WireErrorCode, dropped: Bool = false) {
        let key = dropped ? "dropped" : String(code.rawValue)
        stats.errors[key, default: 0] += 1
        if errorCounters[key] == nil {
            errorCounters[key] = Counter(label: "metro_registry_errors_total", dimensions: [("code", key)])
        }
        errorCounters[key]!.increment()
    }

    static func wallClockNanoseconds() -> UInt64 {
        UInt64(max(0, Date().timeIntervalSince1970 * 1e9))
    }
}

/// The `{}` body of DEREGISTER's OK.
struct EmptyBody: Codable {}

extension Result {
    fileprivate func get(orError makeError: (Failure) -> Success) -> Success {
        switch self {
        case .success(let s): s
        case .failure(let e): makeError(e)
        }
    }
}
