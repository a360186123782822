import ArgumentParser
import Foundation
import Logging
import MetroKit
import MetroProtocol
import MetroRuntime
import MetroSecurity
import ServiceLifecycle
import UnixSignals
import ZeroMQ

/// `metro worker <service>`: runs one instance of a Metro service on the service
/// runtime (docs/operations.md, "Service workers"). Each service is a subcommand; their flags are `WorkerOptions`.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run one instance of a Metro service.",
        subcommands: [
            WorkerEchoCommand.self, WorkerProfilesCommand.self, WorkerVideoCommand.self,
            WorkerRecommendationsCommand.self,
        ]
    )
}

/// The flags every `metro worker <service>` takes.
struct WorkerOptions: ParsableArguments {
    @Option(help: "The broker's ingest (ROUTER) endpoint: where the outbox is published.")
    var brokerIngest = "tcp://127.0.0.1:7701"
    @Option(help: "The broker's consume (ROUTER) endpoint: the event handlers' consumer groups.")
    var brokerConsume = "tcp://127.0.0.1:7704"
    @Option(name: .customLong("registry"), help: "Registry endpoint (repeat for a fallback).")
    var registries: [String] = ["tcp://127.0.0.1:7400"]
    @Option(help: "The data folder; the database is <data>/<service>/<service>.sqlite.")
    var data = "data"
    @Option(help: "Instance id, unique within the service (default: hostname-pid).")
    var instance: String?
    @Option(help: "Where the rpc ROUTER binds (port * picks a free one).")
    var rpcBind = "tcp://127.0.0.1:*"
    @Option(help: "The rpc endpoint registered for callers (default: the one bound).")
    var rpcAdvertise: String?
    @Option(help: "Prometheus HTTP endpoint host:port (port 0 picks one; off by default).")
    var metrics: String?
    @Option(help: "Graceful shutdown: how long work in flight may take, in milliseconds.")
    var drainTimeoutMs = 10_000
    @Option(
        help: "Deliveries before an event that keeps failing is dead-lettered (when this instance creates the group).")
    var maxDeliveries: Int?
    @Option(
        help: """
            The registration's lease, in milliseconds: an instance that dies without deregistering stays listed             this long (100-600000).
            """)
    var registrationTtlMs = 10_000
    @Option(
        help: """
            Inbox rows (events handled) are deleted once older than this, in hours, and once the broker's \
            journal no longer holds their event.
            """)
    var inboxRetentionHours: Double = 192
    @Option(help: "Outbox rows (events published and acknowledged) older than this are deleted, in hours.")
    var outboxRetentionHours: Double = 1
    @Option(help: "How often old inbox and outbox rows are deleted, in milliseconds.")
    var retentionIntervalMs = 600_000
    /// CURVE: the instance's identity defaults to its service's name.
    @OptionGroup var keys: ClientKeyOptions
    @Option(
        help: "CURVE: who may call this instance's rpc socket (default: <keys>/allow-list.yaml; reloaded on SIGHUP).")
    var allowList: String?

    func validate() throws {
        // The range is the registry's to judge (it answers 304 with its own bounds).
        guard inboxRetentionHours > 0, outboxRetentionHours > 0, retentionIntervalMs > 0 else {
            throw ValidationError(
                "--inbox-retention-hours, --outbox-retention-hours and --retention-interval-ms must be positive")
        }
        guard registrationTtlMs > 0 else {
            throw ValidationError("--registration-ttl-ms must be positive, not \(registrationTtlMs)")
        }
    }

    func configuration() -> ServiceRuntime.Configuration {
        var c = ServiceRuntime.Configuration(
            brokerIngest: brokerIngest, brokerConsume: brokerConsume, registry: registries, dataFolder: data,
            instance: instance ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())")
        c.rpcBind = rpcBind
        c.rpcAdvertise = rpcAdvertise
        c.drainTimeout = .milliseconds(drainTimeoutMs)
        c.maxDeliveries = maxDeliveries
        c.registrationTTL = .milliseconds(registrationTtlMs)
        c.inboxRetention = .milliseconds(Int64(inboxRetentionHours * 3_600_000))
        c.outboxRetention = .milliseconds(Int64(outboxRetentionHours * 3_600_000))
        c.retentionInterval = .milliseconds(retentionIntervalMs)
        return c
    }
}

/// Runs `definition` as a `ServiceRuntime` until SIGTERM/SIGINT, with the metrics
/// endpoint when asked for, and prints the ready line
/// `ready {"service":..,"instance":..,"epoch":..,"rpc":..,"database":..[,"metrics":..]}` once
/// the instance serves (and the metrics endpoint is bound). `configuration`
/// defaults to the one `options` make; `adjust` then sets what a service's own
/// flags change in it (e.g. its ACK deadline).
func runWorker(
    _ definition: ServiceDefinition, options: WorkerOptions, configuration: ServiceRuntime.Configuration? = nil,
    process: ProcessBootstrap, adjust: (inout ServiceRuntime.Configuration) -> Void = { _ in }
) async throws {
    let logger = Logger(label: "metro.worker.\(definition.name)")
    let (events, announce) = AsyncStream.makeStream(of: [String: String].self)
    var configuration = configuration ?? options.configuration()
    adjust(&configuration)
    var reloader: HangupReloader?
    if let keys = try options.keys.load(defaultIdentity: definition.name) {
        let authenticator = try ZapAuthenticator(
            domain: "metro.rpc", allowListPath: options.allowList ?? keys.allowList, logger: logger)
        var security = ServiceRuntime.Security(
            keys: keys.keys, brokerPublicKey: keys.brokerPublicKey, registryPublicKey: keys.registryPublicKey,
            authorizeCaller: { authenticator.decide($0) })
        let access = AccessControl(authenticator: authenticator, logger: logger)
        security.authorizeMethod = { identity, method in
            let name = identity ?? "-"
            guard !access.permissions(of: name).allows(.call, Array(method.utf8)) else { return nil }
            access.denied(.call, identity: name, method)
            return WireError(.forbidden, "identity '\(name)' may not call '\(method)' (protocol.md §7.8)")
        }
        configuration.security = security
        reloader = await HangupReloader.allowList(authenticator, logger: logger)
        logger.info(
            "CURVE on", metadata: ["identity": "\(keys.identity)", "publicKey": "\(keys.keys.publicKey)"])
    }
    let runtime = ServiceRuntime(definition, configuration: configuration, logger: logger) { ready in
        // `epoch`: the incarnation it registers as, so `metro up` can free the lease if it dies.
        var fields = [
            "service": ready.service, "instance": ready.instance, "database": ready.database,
            "epoch": "\(Registration.processEpoch)",
        ]
        if let rpc = ready.rpcEndpoint { fields["rpc"] = rpc }
        announce.yield(fields)
    }
    var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: runtime)]
    if let listen = options.metrics {
        let endpoint = MetricsEndpoint(listen: listen, registry: process.prometheus)
        let app = try endpoint.application(logger: logger, onRunning: { announce.yield(["metrics": $0]) })
        services.insert(.init(service: app), at: 0)
    }
    if let reloader { services.append(.init(service: reloader)) }
    services.append(SupervisorWatch(logger: logger).configuration)
    services.append(.init(service: SystemdLifecycle(notifier: SystemdNotifier.shared, logger: logger)))
    let group = ServiceGroup(
        configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    let expected = options.metrics == nil ? 1 : 2
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask {
            defer { announce.finish() }
            try await group.run()
        }
        var fields: [String: String] = [:]
        var seen = 0
        for await part in events {
            fields.merge(part) { $1 }
            seen += 1
            if seen == expected {
                ReadyLine.print(fields)
                break
            }
        }
        try await tasks.waitForAll()
    }
}
