import ArgumentParser
import Foundation
import Logging
import MetroKit
import MetroProtocol
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `metro announce`: registers one instance and keeps its lease until SIGTERM/SIGINT,
/// then deregisters (a sidecar for processes that cannot speak §5 themselves).
/// Prints `ready {"instance":...,"epoch":...}` after the first successful REGISTER.
struct AnnounceCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "announce", abstract: "Register an instance and keep its lease until stopped.")

    @Option(name: .customLong("registry"), help: "Registry endpoint (repeat for a fallback).")
    var registries: [String] = ["tcp://127.0.0.1:7400"]

    @Option(help: "Service name (protocol.md §5.2).")
    var service: String

    @Option(help: "Instance id, unique within the service.")
    var instance: String

    @Option(name: .customLong("endpoint"), help: "The instance's rpc endpoint (repeatable).")
    var endpoints: [String]

    @Option(name: .customLong("meta"), help: "Metadata as key=value (repeatable).")
    var metadata: [String] = []

    @Option(name: .customLong("ttl-ms"), help: "Lease TTL.")
    var ttl: UInt64 = 10_000

    @Option(name: .customLong("heartbeat-ms"), help: "Heartbeat interval (default: a third of the TTL).")
    var heartbeat: Int?

    @Option(name: .customLong("timeout-ms"), help: "Per-attempt request timeout.")
    var timeout = 1000

    @Option(help: "Start epoch (default: this process's start time in ns).")
    var epoch: UInt64?

    @OptionGroup var keys: ClientKeyOptions
    @OptionGroup var global: GlobalOptions

    func run(_ process: ProcessBootstrap) async throws {
        let logger = Logger(label: "metro.announce")
        var meta: [String: String] = [:]
        for kv in metadata {
            guard let eq = kv.firstIndex(of: "=") else { throw ValidationError("--meta takes key=value, got '\(kv)'") }
            meta[String(kv[..<eq])] = String(kv[kv.index(after: eq)...])
        }
        let registration = Registration(
            service: service, instance: instance, epoch: epoch ?? Registration.processEpoch,
            endpoints: endpoints, metadata: meta, ttlMilliseconds: ttl)
        var configuration = RegistryClient.Configuration(endpoints: registries, requestTimeout: .milliseconds(timeout))
        configuration.curve = try keys.load().registry
        let client = try RegistryClient(configuration: configuration, logger: logger)
        let announced = Atomic<Bool>(false)
        let announcer = ServiceAnnouncer(
            client: client, registration: registration, heartbeatInterval: heartbeat.map { .milliseconds($0) },
            logger: logger
        ) { _ in
            if !announced.exchange(true, ordering: .relaxed) {
                ReadyLine.print(["instance": registration.instance, "epoch": String(registration.epoch)])
            }
        }
        // The client before the announcer: shutdown runs in reverse, so the announcer
        // deregisters while the client still runs.
        let group = ServiceGroup(
            configuration: .init(
                services: [client, announcer], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
