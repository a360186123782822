import Foundation
public import Logging
public import MetroProtocol
public import ServiceLifecycle
public import ZeroMQ

/// MetroKit's client of the service registry (protocol.md §5): async REGISTER,
/// HEARTBEAT, DEREGISTER, LOOKUP, LIST and STATS over REQ with Lazy Pirate retries,
/// a LOOKUP cache that follows membership events, and a stream of those events.
///
/// Threading: `Sendable`; call it from any task. The sockets live on the client's
/// `IOThread` (its rule applies), which starts on the first request (or `run()`, as a
/// `Service`) and stops in `close()`; callers suspend, they never block a thread of
/// the cooperative pool. Requests from concurrent callers are served one at a time,
/// in order (REQ is lockstep).
///
/// Every request ends: with a result, with the registry's error (`.rejected`), or
/// after `attempts` × `requestTimeout` with `.unreachable`.
public final class RegistryClient: Service, Sendable {
    /// The configuration the client was made with; fixed for its life.
    public let configuration: Configuration
    let io: IOThread<RegistryClientLoop>
    private let cache: LookupCache
    private let watchers = Mailbox(RegistryClientLoop.Watchers())

    /// Prepares the client; its I/O thread starts on first use. `context` defaults to
    /// a new one owned by the client (released on the I/O thread at the end).
    public init(
        configuration: Configuration, context: Context? = nil,
        logger: Logger = Logger(label: "metro.registry.client")
    ) throws(ZMQError) {
        self.configuration = configuration
        let ctx: Context
        if let context { ctx = context } else { ctx = try Context(ioThreads: 1, defaultLingerMilliseconds: 0) }
        let cache = LookupCache(
            maxAge: configuration.eventsEndpoint == nil
                ? min(configuration.cacheMaxAge, .seconds(1)) : configuration.cacheMaxAge)
        self.cache = cache
        let watchers = self.watchers
        io = IOThread(
            name: "metro-regclient", context: ctx, logger: logger,
            makeLoop: { setup in
                RegistryClientLoop(
                    setup: setup, configuration: configuration, cache: cache, watchers: watchers, logger: logger)
            },
            onEnd: { RegistryClientLoop.end(unhandled: $0, watchers: watchers) })
    }

    /// A client of the registry at `endpoints` with default timeouts.
    public convenience init(endpoints: [String]) throws(ZMQError) {
        try self.init(configuration: Configuration(endpoints: endpoints))
    }

    /// Asks the I/O thread to stop; never waits. Prefer `close()`.
    deinit { io.requestStop() }

    /// Runs the I/O thread until `close()`, graceful shutdown or cancellation
    /// (swift-service-lifecycle `Service`).
    public func run() async throws { await io.run() }

    /// Stops the I/O thread (queued requests fail with `.closed`) and waits, without
    /// blocking a thread, until its sockets are closed. Safe to call more than once.
    public func close() async { await io.shutdown() }

    /// Registers (or refreshes, with the same epoch) an instance; returns the TTL granted (§5.4).
    @discardableResult
    public func register(_ registration: Registration) async throws(MetroClientError) -> LeaseGrant {
        try await call(.register(registration), LeaseGrant.self)
    }

    /// Renews the lease of `key`; `.rejected` with 300 `unknown-instance` means register again (§5.5).
    @discardableResult
    public func heartbeat(_ key: InstanceKey) async throws(MetroClientError) -> LeaseGrant {
        try await call(.heartbeat(key), LeaseGrant.self)
    }

    /// Removes `key`'s instance. A 300 reply counts as success (a retried DEREGISTER
    /// whose first reply was lost, or an instance that already expired) (§5.6).
    public func deregister(_ key: InstanceKey) async throws(MetroClientError) {
        do {
            _ = try await call(.deregister(key), EmptyReply.self)
        } catch let e where e.wireCode == .unknownInstance {
            return
        }
    }

    /// The healthy instances of `service`, from the cache when it is fresh (§5.7).
    public func lookup(_ service: String) async throws(MetroClientError) -> [InstanceInfo] {
        try await lookupResult(service).instances
    }

    /// LOOKUP's whole answer, with `warming` (the registry restarted moments ago).
    package func lookupResult(_ service: String) async throws(MetroClientError) -> LookupResult {
        let (cached, generation) = cache.get(service)
        if let cached { return cached }
        let result = try await call(.lookup(service: service), LookupResult.self)
        cache.store(result, generation: generation)
        return result
    }

    /// Every live instance with its lease (§5.8); never cached.
    public func list() async throws(MetroClientError) -> [InstanceStatus] {
        try await call(.list, ListResult.self).instances
    }

    /// The registry's counters (§5.9).
    public func stats() async throws(MetroClientError) -> RegistryStats {
        try await call(.stats, RegistryStats.self)
    }

    /// Membership events from the broker (needs `Configuration.eventsEndpoint`); the
    /// stream ends when the client closes. Events published before the subscription
    /// reached the broker are not replayed: re-LIST after subscribing.
    public func membershipEvents() -> AsyncStream<MembershipEvent> {
        let (stream, continuation) = AsyncStream<MembershipEvent>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        let id = UUID()
        let added = watchers.withLock { w in
            guard !w.ended else { return false }
            w.byID[id] = continuation
            return true
        }
        guard added else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [watchers] _ in _ = watchers.withLock { $0.byID.removeValue(forKey: id) } }
        io.startIfNeeded()  // the SUB subscribes when the thread starts
        return stream
    }

    private func call<T: Decodable & Sendable>(_ request: RegistryRequest, _ type: T.Type)
        async throws(MetroClientError) -> T
    {
        let operation = "registry \(request.command.rawValue)"
        let reply = await withCheckedContinuation {
            (c: CheckedContinuation<Result<RegistryReply, MetroClientError>, Never>) in
            if !io.send(.request(request, { c.resume(returning: $0) })) {
                c.resume(returning: .failure(.closed(operation)))
            }
        }
        switch reply {
        case .failure(let e): throw e
        case .success(.error(let wire)): throw .rejected(wire, operation: operation)
        case .success(let ok):
            switch ok.result(T.self) {
            case .success(let value): return value
            case .failure(let e):
                throw MetroClientError(.protocolViolation, operation: operation, message: "reply body: \(e.message)")
            }
        }
    }
}

/// DEREGISTER's `{}`.
private struct EmptyReply: Decodable, Sendable {}
