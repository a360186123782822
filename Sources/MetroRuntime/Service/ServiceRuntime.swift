public import Logging
import MetroKit
public import MetroProtocol
public import ServiceLifecycle
import ZeroMQ

/// One instance of a service, as a swift-service-lifecycle `Service`.
///
/// `run()` starts, in this order: the store (open, migrate), with
/// `rebuildFromJournal` the rebuild of its state from the journal (`JournalRebuild`), the outbox relay, the
/// rpc server (bound), the event handlers (one `Consumer` per `on(...)`, JOINed with
/// the handler's concurrency as credit), the registration (`ServiceAnnouncer`,
/// with the advertised rpc endpoint) and the housekeeping tasks (`every(...)`, and
/// the runtime's own `RuntimeRetention`); then `onReady`. It serves until graceful
/// shutdown (SIGTERM/SIGINT in `metro worker`) and then stops in this order:
///
/// 1. stop taking work: rpc answers 109 `unavailable`; no delivery is started;
///    housekeeping tasks are cancelled (awaited before the store closes);
/// 2. finish what is in flight, for at most `drainTimeout` (handlers ACK as they commit);
/// 3. flush the outbox (at most `outboxFlushTimeout`);
/// 4. deregister;
/// 5. close: consumers (their queued ACKs go out before LEAVE; deliveries not
///    started go back to the group), rpc, publisher, registry client, database.
///
/// A kill -9 at any point loses nothing: effects and outbox rows commit together,
/// the ACK follows the commit, and the relay sends what a crash left unsent.
///
/// Cancellation instead of graceful shutdown runs the same steps without waiting.
public final class ServiceRuntime: Service, Sendable {
    public let definition: ServiceDefinition
    public let configuration: Configuration
    private let logger: Logger
    private let onReady: @Sendable (Ready) -> Void

    /// `logger` gets `service` and `instance` metadata; `onReady` runs once, when
    /// the instance serves (`metro worker` prints its ready line there).
    public init(
        _ definition: ServiceDefinition, configuration: Configuration,
        logger: Logger = Logger(label: "metro.service"), onReady: @escaping @Sendable (Ready) -> Void = { _ in }
    ) {
        self.definition = definition
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "service"] = "\(definition.name)"
        logger[metadataKey: "instance"] = "\(configuration.instance)"
        self.logger = logger
        self.onReady = onReady
    }

    public func run() async throws {
        let c = configuration
        let faults = FaultPoints()
        if let armed = faults.armed { logger.warning("fault injection armed: SIGKILL at \(armed.rawValue)") }
        let store = try await ServiceStore.open(
            folder: c.dataFolder, service: definition.name, busyTimeout: c.busyTimeout, faults: faults,
            migrations: definition.registerMigrations)
        if c.rebuildFromJournal {
            do {
                // SIGTERM stops a rebuild; running it again completes it (the inbox skips what it applied).
                try await cancelWhenGracefulShutdown { [definition, logger] in
                    for registration in definition.eventHandlers {
                        _ = try await JournalRebuild(
                            registration: registration, store: store, faults: faults, configuration: c, logger: logger
                        ).run()
                    }
                }
            } catch {
                await store.close()
                throw error
            }
        }
        var publishing = Publisher.Options(ingest: c.brokerIngest)
        publishing.curve = c.security?.broker
        let publisher = try Publisher(publishing, logger: logger)
        let relay = OutboxRelay(store: store, publisher: publisher, logger: logger)
        let callers = try RpcCallerGate(c.security, logger: logger)
        let rpc = try rpcServer(store: store, context: callers?.context)
        let subscriptions = try definition.eventHandlers.map { try subscription($0, store: store, faults: faults) }
        var registering = RegistryClient.Configuration(endpoints: c.registry)
        registering.curve = c.security?.registry
        let registry = try c.registry.isEmpty ? nil : RegistryClient(configuration: registering)
        defer { callers?.stop() }

        let failure: (any Error)? = await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask { await relay.run() }
            let (handlersDone, handlersDoneSignal) = AsyncStream.makeStream(of: Void.self)
            // A lost lease or a consumer that ended on its own: either stops the instance.
            let (lost, lostSignal) = AsyncStream.makeStream(of: (any Error).self)
            tasks.addTask {
                await withTaskGroup(of: Void.self) { each in
                    for s in subscriptions {
                        each.addTask {
                            await s.run()
                            // Ended before `stop()`: its consumer gave up (the broker refused
                            // a JOIN, or its I/O thread failed). An instance that takes no
                            // events must not go on serving and registered as if it did.
                            if !s.isStopped {
                                if s.registration.readsDeadLetters, let refusal = s.consumer.refusal,
                                    refusal.code == .forbidden
                                {
                                    // Settling dead letters is an extra: an allow list written
                                    // before the handler existed must not stop the service.
                                    Self.deadLettersRefused(s.registration, refusal, logger: self.logger)
                                } else {
                                    lostSignal.yield(ServiceRuntimeError.consumerEnded(group: s.registration.group))
                                }
                            }
                        }
                    }
                }
                handlersDoneSignal.finish()
            }
            var announcing: Task<Void, Never>?
            var housekeeping: [Task<Void, Never>] = []
            var failure: (any Error)?
            do {
                let endpoint = try await rpc?.start()
                if let registry, let advertised = c.rpcAdvertise ?? endpoint {
                    let announcer = ServiceAnnouncer(
                        client: registry,
                        registration: Registration(
                            service: definition.name, instance: c.instance, epoch: Registration.processEpoch,
                            endpoints: [advertised],
                            metadata: c.security.map { [RpcServer.curvePublicKeyMetadata: $0.keys.publicKey] } ?? [:],
                            ttlMilliseconds: UInt64(c.registrationTTL.inMilliseconds)),
                        logger: logger)
                    // Detached: the announcer deregisters on cancellation, which this
                    // task chooses (step 4), not on the group's graceful shutdown,
                    // which would deregister before the in-flight work finished.
                    announcing = Task.detached {
                        do { try await announcer.run() } catch {
                            lostSignal.yield(ServiceRuntimeError.registrationLost(error))
                        }
                    }
                } else if registry != nil {
                    logger.warning("not registering: the service has no rpc endpoint to advertise")
                }
                let retention = RuntimeRetention(inbox: c.inboxRetention, outbox: c.outboxRetention)
                // A short timeout: shutdown waits for a pass in progress, and a broker
                // answers STATS in microseconds when it answers at all.
                let stats = BrokerAdminClient(
                    consumeEndpoint: c.brokerConsume, timeout: .seconds(1), curve: c.security?.broker)
                let tasks =
                    [retention.registration(every: c.retentionInterval, broker: stats)] + definition.housekeeping
                housekeeping = tasks.map { [logger] task in
                    Task { await task.loop(store: store, logger: logger) }
                }
                onReady(
                    Ready(service: definition.name, instance: c.instance, rpcEndpoint: endpoint, database: store.path))
                logger.info("serving", metadata: ["rpc": "\(endpoint ?? "none")", "database": "\(store.path)"])
                try await Self.untilShutdown(orFailureIn: lost)
            } catch is CancellationError {
                logger.info("cancelled; stopping without waiting")
            } catch let e as ServiceRuntimeError {
                logger.error("stopping: \(e)")
                failure = e
            } catch {
                logger.error("could not start: \(error)")
                failure = error
            }
            await shutdown(
                rpc: rpc, subscriptions: subscriptions, handlersDone: handlersDone, relay: relay,
                announcing: announcing,
                housekeeping: housekeeping)
            tasks.cancelAll()
            return failure
        }
        await publisher.close()
        await registry?.close()
        await store.close()
        if let failure { throw failure }
        logger.info("stopped")
    }

    /// Steps 1–5 of the type's documentation, up to closing the consumers and rpc.
    private func shutdown(
        rpc: RpcServer?, subscriptions: [EventSubscription], handlersDone: AsyncStream<Void>, relay: OutboxRelay,
        announcing: Task<Void, Never>?, housekeeping: [Task<Void, Never>]
    ) async {
        logger.info("stopping: draining rpc and events in flight")
        for s in subscriptions { s.stop() }
        for task in housekeeping { task.cancel() }
        let drainTimeout = configuration.drainTimeout
        async let rpcDrained: Void = rpc?.drain(timeout: drainTimeout) ?? ()
        let finished = await within(drainTimeout) { for await _ in handlersDone {} }
        await rpcDrained
        if !finished { logger.warning("events still in flight after \(drainTimeout); they will be redelivered") }
        let unsent = await relay.flush(timeout: configuration.outboxFlushTimeout)
        if unsent != 0 { logger.warning("outbox not flushed: \(unsent) events left for the next start") }
        relay.stop()
        if let announcing {
            announcing.cancel()
            await announcing.value
        }
        for s in subscriptions { await s.consumer.close() }
        await rpc?.close()
        for task in housekeeping { await task.value }
    }

    /// The rpc server of the service's methods; nil when it declares none.
    func rpcServer(store: ServiceStore, context: Context?) throws -> RpcServer? {
        guard !definition.rpcMethods.isEmpty else { return nil }
        var router = RpcRouter()
        for method in definition.rpcMethods { method.register(&router, store) }
        var options = RpcServer.Options(bind: configuration.rpcBind, drainTimeout: configuration.drainTimeout)
        options.curve = configuration.security.map { .init(keys: $0.keys, zapDomain: $0.zapDomain) }
        options.authorizeMethod = configuration.security?.authorizeMethod
        options.ioThreadMethods = Set(definition.rpcMethods.filter { $0.placement == .inline }.map(\.name))
        // The incarnation it registers (below, in `run`): calls meant for an earlier
        // one that held this port are refused with 408 (protocol.md §6.3).
        options.incarnation = RpcHeaders.target(
            service: definition.name, instance: configuration.instance, epoch: Registration.processEpoch)
        return try RpcServer(options, router: router, context: context, logger: logger)
    }

    private func subscription(
        _ registration: EventHandlerRegistration, store: ServiceStore, faults: FaultPoints
    ) throws -> EventSubscription {
        var options = Consumer.Options(
            consume: configuration.brokerConsume, group: registration.group, member: configuration.instance,
            config: .init(
                prefixes: registration.topics,
                ackTimeoutMs: configuration.ackTimeout.map { Int($0.inMilliseconds) },
                maxDeliveries: configuration.maxDeliveries))
        options.window = UInt32(registration.concurrency)
        options.curve = configuration.security?.broker
        var logger = self.logger
        logger[metadataKey: "group"] = "\(registration.group)"
        let consumer = try Consumer(options, logger: logger)
        let processor = DeliveryProcessor(
            registration: registration, consumer: consumer, store: store, faults: faults, logger: logger)
        return EventSubscription(registration: registration, consumer: consumer, processor: processor)
    }
}

extension ServiceRuntime {
    /// A dead-letter handler whose group the broker refused (110): the service goes
    /// on without it, saying what to change.
    static func deadLettersRefused(_ registration: EventHandlerRegistration, _ refusal: WireError, logger: Logger) {
        logger.error(
            "the dead letters of this service's events are not handled: the broker refused group \(registration.group) (\(refusal)); add \(registration.topics.joined(separator: ", ")) to this identity's consume list and reload the broker (kill -HUP), then restart this instance",
            metadata: ["group": "\(registration.group)"])
    }

    /// Returns on graceful shutdown; throws `CancellationError` on cancellation, and
    /// the first `ServiceRuntimeError` that `failures` yields: `registrationLost` when
    /// the announcer gave up for good (the registry refuses this instance, e.g. 301:
    /// a newer incarnation took its id), since an instance nobody can find must not
    /// go on taking events unnoticed; `consumerEnded` when an event handler's
    /// consumer ended on its own.
    static func untilShutdown(orFailureIn failures: AsyncStream<any Error>) async throws {
        try await withThrowingTaskGroup(of: Void.self) { race in
            race.addTask { try await gracefulShutdown() }
            race.addTask {
                for await error in failures {
                    throw error as? ServiceRuntimeError ?? ServiceRuntimeError.registrationLost(error)
                }
            }
            defer { race.cancelAll() }
            try await race.next()
        }
    }
}

/// Why a `ServiceRuntime` stopped on its own.
public enum ServiceRuntimeError: Error, CustomStringConvertible {
    /// The registry refused the instance for good.
    case registrationLost(any Error)
    /// The consumer of the event handler for `group` ended before shutdown.
    case consumerEnded(group: String)

    public var description: String {
        switch self {
        case .registrationLost(let e): "the registry refused this instance for good: \(e)"
        case .consumerEnded(let group):
            "the consumer of group \(group) ended (see the error logged before): this instance takes no more events"
        }
    }
}

/// Runs `operation` for at most `timeout`; true if it finished, false if the time
/// ran out first (it is then cancelled and awaited).
func within(_ timeout: Duration, _ operation: @escaping @Sendable () async -> Void) async -> Bool {
    await withTaskGroup(of: Bool.self) { race in
        race.addTask {
            await operation()
            return !Task.isCancelled
        }
        race.addTask {
            try? await Task.sleep(for: timeout)
            return false
        }
        let first = await race.next() ?? false
        race.cancelAll()
        return first
    }
}
