import ArgumentParser
import Foundation
import Logging
import MetroBroker
import MetroSecurity
import ServiceLifecycle
import UnixSignals
import ZeroMQ

/// `metro up`: the whole system on one machine. It starts, as child processes
/// of this same binary (so each can be killed and watched on its own, exactly
/// as in production), the broker, the registry and the configured instances of
/// each service (`SystemFile`: Broker/system.yaml, overridden by flags);
/// restarts a child that dies; and on SIGINT/SIGTERM stops them in reverse
/// dependency order (workers, registry, broker). Each child's output is
/// prefixed with its name; `metro up` prints one ready line of its own once
/// every child is ready and every instance registered (`UpReadiness`). A
/// child that cannot bind an endpoint stops it.
struct UpCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Run the broker, the registry and the services' workers together, restarting any that dies."
    )

    @Option(
        help:
            "Folder for all data (the broker's journal goes to <data-dir>/broker, each service's to <data-dir>/<service>)."
    )
    var dataDir = "data"

    @Option(help: "The broker configuration file (default: Broker/broker.yaml if present).")
    var config: String?

    @Option(help: "What to start besides the broker and the registry (default: Broker/system.yaml if present).")
    var system: String?

    @Option(help: "Registry endpoint to bind.")
    var registry = "tcp://127.0.0.1:7400"

    @Option(help: "Where the registry serves its Prometheus /metrics, host:port (\"\": nowhere, the default).")
    var registryMetrics = ""

    @Option(
        help:
            "Where metro up serves its own Prometheus /metrics (each child's restarts and readiness), host:port (\"\": nowhere, the default)."
    )
    var metrics = ""

    @Option(help: "Instances of the profiles service (0: not started; default from the system file, else 1).")
    var profiles: Int?
    @Option(help: "Instances of the video service (0: not started; default from the system file, else 2).")
    var video: Int?
    @Option(help: "Instances of the recommendations service (0: not started; default from the system file, else 1).")
    var recommendations: Int?

    @Option(help: "Jobs at once per video instance (default from the system file, else the number of cores).")
    var videoJobs: Int?
    @Option(
        help: "SYNTHETIC, for load tests only: video workers do a CPU-bound step of this many ms instead of ffmpeg.")
    var syntheticWorkMs: Int?

    @Option(help: "Where the HTTP gateway listens (host:port; an empty value starts no gateway).")
    var gateway = "127.0.0.1:8080"

    @Option(
        help:
            "Shutdown: how long each stage (gateway, workers, registry, broker) may take after SIGTERM before SIGKILL, in ms."
    )
    var stopTimeoutMs = 30_000

    @Flag(
        help: """
            CURVE on every socket (protocol.md §7.10): key pairs and an allow-list under <data-dir>/keys, made if missing; \
            the CLI then needs --keys <data-dir>/keys (or METRO_KEYS).
            """)
    var secure = false

    /// Also given to the children, so `metro up --log-level debug` logs everything at debug.
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        for (flag, value) in [("--profiles", profiles), ("--video", video), ("--recommendations", recommendations)] {
            if let value, !(0...SystemFile.maxInstances).contains(value) {
                throw ValidationError("\(flag) must be in 0...\(SystemFile.maxInstances)")
            }
        }
        if stopTimeoutMs < 1 { throw ValidationError("--stop-timeout-ms must be at least 1") }
        if let videoJobs, videoJobs < 1 { throw ValidationError("--video-jobs must be at least 1") }
        if let syntheticWorkMs, syntheticWorkMs < 0 {
            throw ValidationError("--synthetic-work-ms must not be negative")
        }
    }

    /// The system file with this command's flags applied.
    func plan() throws -> SystemFile {
        var system = try SystemFile.load(self.system)
        for (name, value) in [("profiles", profiles), ("video", video), ("recommendations", recommendations)] {
            if let value { system.services[name] = value }
        }
        if let videoJobs { system.video.jobs = videoJobs }
        if let syntheticWorkMs { system.video.syntheticWorkMs = syntheticWorkMs }
        return system
    }

    func run(_ process: ProcessBootstrap) async throws {
        do {
            try await runSystem(process)
        } catch {
            // `systemctl status` shows why the system stopped or never started
            // (a taken port, a child never ready); its log has the rest.
            SystemdNotifier.shared?.send(["STATUS=failed: \(error)"], logger: Logger(label: "metro.up"))
            throw error
        }
    }

    private func runSystem(_ process: ProcessBootstrap) async throws {
        let logger = Logger(label: "metro.up")
        let (broker, source) = try ConfigurationFile.loadBroker(config)
        // The files first: a mistake in them is said whatever else is wrong (a taken port).
        let system = try plan()
        try await UpPreflight(
            broker: broker, registry: registry, gateway: gateway, configFile: source, dataDir: dataDir,
            metricsListeners: [
                ("metro up metrics", metrics, "--metrics"), ("registry metrics", registryMetrics, "--registry-metrics"),
            ].filter { !$0.listen.isEmpty }
        ).check()
        let keys = secure ? try SecureSystem.prepare(directory: dataDir + "/keys", logger: logger) : nil
        let notifier = SystemdNotifier.shared
        var brokerArgs = ["broker", "--data-dir", dataDir + "/broker"] + process.childArguments
        if let config { brokerArgs += ["--config", config] }
        var registryArgs = ["registry", "--endpoint", registry, "--broker", broker.endpoints.publish]
        if !registryMetrics.isEmpty { registryArgs += ["--metrics", registryMetrics] }
        if let keys {
            brokerArgs += ["--curve-secret-key", keys.path("broker.key"), "--allow-list", keys.allowList]
            registryArgs += [
                "--curve-secret-key", keys.path("registry.key"), "--allow-list", keys.allowList,
                "--broker-public-key", keys.path("broker.pub"),
            ]
        }
        var children = [
            ChildSpec(name: "broker", arguments: brokerArgs, stage: 0),
            ChildSpec(name: "registry", arguments: registryArgs + process.childArguments, stage: 1),
        ]
        // Workers are their service (the default identity), the gateway `gateway`.
        let keyArgs = keys.map { ["--keys", $0.directory] } ?? []
        let workers = SystemChildren.workers(
            system, broker: broker, registry: registry, dataDir: dataDir, global: keyArgs + process.childArguments)
        children += workers.map(\.spec)
        // The gateway calls the services: it starts with them and stops first (stage 3).
        if !gateway.isEmpty {
            children.append(
                ChildSpec(
                    name: "gateway",
                    arguments: [
                        "gateway", "--listen", gateway, "--registry", registry, "--broker-events",
                        broker.endpoints.events, "--broker-ingest", broker.endpoints.ingest, "--broker-consume",
                        broker.endpoints.consume,
                    ] + keyArgs + (keys.map { ["--auth-secret-file", $0.gatewaySecret] } ?? [])
                        + process.childArguments,
                    stage: 3))
        }
        // `metro up`'s own registry client (readiness, freeing dead leases) is the operator, `cli`.
        let operatorKeys = try keys.map {
            CurveCredentials(
                keys: try KeyFiles.loadSecret($0.path("cli.key")),
                serverPublicKey: try KeyFiles.loadPublic($0.path("registry.pub")))
        }
        let ready = UpReadiness(
            children: children.map(\.name), instances: workers.map { ($0.service, $0.spec.name) },
            registry: registry, curve: operatorKeys, keysDirectory: keys?.directory,
            gatewaySecret: keys?.gatewaySecret, jsonLogs: process.logFormat == .json, logger: logger)
        notifier?.send(["STATUS=starting \(children.map(\.name).joined(separator: ", "))"], logger: logger)
        let reaper = DeadInstanceReaper(registry: registry, curve: operatorKeys, logger: logger)
        let supervisor = Supervisor(
            children: children, logger: logger, stopTimeout: .milliseconds(stopTimeoutMs), statusFolder: dataDir,
            jsonLogs: process.logFormat == .json, notifier: notifier, onDeath: { await reaper.childDied($0) }
        ) {
            reaper.childReady($0, fields: $1)
            ready.childReady($0, fields: $1, restarted: $2)
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: supervisor)]
        // Under systemd SIGHUP is `systemctl reload`: trapped even without --secure,
        // where it has nothing to reload, so that a reload never kills the system.
        if keys != nil || notifier != nil {
            services.append(
                .init(
                    service: await HangupForwarder(
                        supervisor: supervisor, forwards: keys != nil, notifier: notifier, logger: logger)))
        }
        services.append(.init(service: SystemdLifecycle(notifier: notifier, logger: logger)))
        // Started by `metro soak` (or a test), the whole system stops with its starter,
        // even when that is killed with -9: it would otherwise keep every port.
        services.append(SupervisorWatch(logger: logger).configuration)
        if !metrics.isEmpty {
            let endpoint = try MetricsEndpoint(listen: metrics, registry: process.prometheus).application(
                logger: logger, onRunning: { logger.info("serving metrics", metadata: ["metrics": "\($0)"]) })
            services.append(.init(service: endpoint))
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The service workers `metro up` starts: `metro worker <service>` with the
/// broker's and the registry's endpoints, the shared data folder, and an
/// instance id `<service>-<n>` that is also its name in the output.
enum SystemChildren {
    struct Worker {
        let service: String
        let spec: ChildSpec
    }

    static func workers(
        _ system: SystemFile, broker: BrokerConfiguration, registry: String, dataDir: String, global: [String]
    ) -> [Worker] {
        SystemFile.serviceNames.flatMap { service in
            (0..<(system.services[service] ?? 0)).map { i in
                let instance = "\(service)-\(i + 1)"
                var arguments = [
                    "worker", service, "--broker-ingest", broker.endpoints.ingest, "--broker-consume",
                    broker.endpoints.consume, "--registry", registry, "--data", dataDir, "--instance", instance,
                ]
                if service == "video" {
                    if let jobs = system.video.jobs { arguments += ["--jobs", "\(jobs)"] }
                    if let ms = system.video.syntheticWorkMs { arguments += ["--synthetic-work-ms", "\(ms)"] }
                }
                return Worker(
                    service: service, spec: ChildSpec(name: instance, arguments: arguments + global, stage: 2))
            }
        }
    }
}
