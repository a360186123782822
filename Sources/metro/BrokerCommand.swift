import ArgumentParser
import Foundation
import Logging
import MetroBroker
import MetroKit
import MetroProtocol
import MetroSecurity
import Prometheus
import ServiceLifecycle
import ZeroMQ

/// `metro broker`: runs the broker, or (`metro broker stats`) asks a running one
/// for its stats. The run options are this command's own, so `metro broker --help`
/// shows the endpoint flags; `metro broker run` is the same command, kept for
/// scripts that name it.
struct BrokerCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Run the Metro broker, or query a running one.",
        subcommands: [
            BrokerRunCommand.self, BrokerStatsCommand.self, BrokerDeleteGroupCommand.self,
            BrokerSkipDamagedCommand.self,
        ]
    )

    @OptionGroup var options: BrokerRunOptions
    @OptionGroup var global: GlobalOptions

    func run(_ process: ProcessBootstrap) async throws { try await options.run(process) }
}

/// `metro broker run`: the same as `metro broker`.
struct BrokerRunCommand: MetroCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the broker (the default).")

    @OptionGroup var options: BrokerRunOptions
    @OptionGroup var global: GlobalOptions

    func run(_ process: ProcessBootstrap) async throws { try await options.run(process) }
}

/// The broker's flags: binds the sockets, prints `ready {json}` on stdout, serves
/// until SIGINT/SIGTERM, then flushes the journal and exits. Exits with status 74
/// (EX_IOERR) when a sync of its data failed (protocol.md §4.2.7).
struct BrokerRunOptions: ParsableArguments {
    @Option(help: "The configuration file (YAML; default: Broker/broker.yaml if present).")
    var config: String?
    @Option(help: "Ingest (ROUTER) endpoint: acknowledged publish.")
    var ingest: String?
    @Option(help: "Publish (XSUB) endpoint: fire-and-forget publish.")
    var publish: String?
    @Option(help: "Events (XPUB) endpoint: live fan-out.")
    var events: String?
    @Option(help: "Consume (ROUTER) endpoint: stats, replay and consumer groups.")
    var consume: String?
    @Option(help: "Prometheus HTTP endpoint host:port (port 0 picks one; empty disables).")
    var metrics: String?
    @Option(help: "The journal's folder.")
    var dataDir: String?
    @Option(help: "fsync policy: always, interval or never.")
    var fsync: String?
    @Option(help: "CURVE on, with this secret key file (NAME.key, mode 0600); needs --allow-list (protocol.md §7).")
    var curveSecretKey: String?
    @Option(help: "The allow-list of client identities (YAML, protocol.md §7.3); reloaded on SIGHUP.")
    var allowList: String?
    @Option(
        help: "With CURVE on: the identity that alone may publish $registry.* (default registry; protocol.md §7.8).")
    var registryIdentity: String?

    func run(_ process: ProcessBootstrap) async throws {
        // The same file `metro doctor` and `metro up` read: --config, else
        // Broker/broker.yaml when present, else the built-in defaults.
        var (configuration, _) = try ConfigurationFile.loadBroker(config)
        if let ingest { configuration.endpoints.ingest = ingest }
        if let publish { configuration.endpoints.publish = publish }
        if let events { configuration.endpoints.events = events }
        if let consume { configuration.endpoints.consume = consume }
        if let metrics { configuration.endpoints.metrics = metrics }
        if let dataDir { configuration.dataDir = dataDir }
        if let curveSecretKey {
            configuration.security.curve = true
            configuration.security.secretKeyFile = curveSecretKey
        }
        if let allowList { configuration.security.allowList = allowList }
        if let registryIdentity { configuration.security.registryIdentity = registryIdentity }
        if let fsync {
            guard let policy = BrokerConfiguration.FsyncPolicy(rawValue: fsync) else {
                throw ValidationError("--fsync must be always, interval or never")
            }
            configuration.journal.fsync = policy
        }

        let logger = Logger(label: "metro.broker")
        // Before any socket or file is opened: the descriptor budget (OpenFilesLimit).
        let (before, after) = OpenFilesLimit.raiseToHard()
        logger.info(
            "open files limit",
            metadata: ["soft": "\(after.soft)", "hard": "\(after.hard)", "softAtStart": "\(before.soft)"])
        if after.soft < 4096 {
            logger.warning(
                "the open files limit is low: each client connection costs the broker a descriptor",
                metadata: ["limit": "\(after.soft)"])
        }

        do {
            try await serve(configuration, metrics: process.prometheus, logger: logger)
        } catch let error as JournalError where error.isSyncFailure {
            // The supervisor (`metro up`, systemd) restarts it; recovery checks the journal.
            logger.critical("exiting: a sync failed (\(error))", metadata: ["status": "74"])
            throw ExitCode(BrokerEngine.exitStatusStorageFailure)
        }
    }

    /// The engine publishes its counters to swift-metrics (`BrokerMetrics`), whose
    /// backend is `metrics`: the HTTP endpoint serves that registry directly.
    private func serve(
        _ configuration: BrokerConfiguration, metrics registry: PrometheusCollectorRegistry, logger: Logger
    ) async throws {
        try configuration.validate()
        let security = try CurveSecurity.server(
            secretKeyFile: configuration.security.curve ? configuration.security.secretKeyFile : nil,
            allowList: configuration.security.allowList, domain: "metro.broker", logger: logger)
        let engine = try BrokerEngine(configuration: configuration, logger: logger, security: security)
        var ready = engine.boundEndpoints
        ready["dataDir"] = configuration.dataDir
        if let security { ready["curvePublicKey"] = security.keys.publicKey }
        let metrics =
            configuration.endpoints.metrics.isEmpty
            ? nil : MetricsEndpoint(listen: configuration.endpoints.metrics, registry: registry)
        var services: [any Service] = [BrokerService(engine: engine)]
        if let security {
            services.append(await HangupReloader.allowList(security.authenticator, logger: logger))
        }
        try await runServices(services, ready: ready, metrics: metrics, logger: logger)
    }
}

/// `metro broker stats`: asks the consume socket for STATS (JSON) or METRICS (Prometheus text).
struct BrokerStatsCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Print a running broker's counters.")

    /// `metro broker`'s own flags, shared with this subcommand (ArgumentParser fills
    /// one option group for the whole command path, so a flag of the same name
    /// here would never be set): `--consume`, else the consume endpoint of
    /// `--config` (or Broker/broker.yaml), names the broker to ask.
    @OptionGroup(title: "Broker (--consume, or endpoints.consume of --config, names the broker)")
    var broker: BrokerRunOptions
    var consume: String { broker.consumeEndpoint }
    @Flag(help: "Print Prometheus text instead of JSON.")
    var prometheus = false
    @Flag(help: "Print a table of the consumer groups instead of JSON.")
    var groups = false
    @Option(help: "Give up after this many milliseconds.")
    var timeoutMs: Int = 3000
    @OptionGroup var keys: ClientKeyOptions
    @OptionGroup var global: GlobalOptions

    func run(_ process: ProcessBootstrap) async throws {
        let client = BrokerAdminClient(
            consumeEndpoint: consume, timeout: .milliseconds(timeoutMs), curve: try keys.load().broker)
        if prometheus {
            print(try client.explained { try $0.metrics() }, terminator: "")
        } else if groups {
            let stats = try client.explained { try $0.stats() }
            // Names are never cut: `video-processing-dead-letters` is 29 characters.
            let nameWidth = max(24, (stats.groups.keys.map(\.count).max() ?? 0) + 2)
            func row(_ cells: [String]) -> String {
                cells.enumerated().map { i, c in
                    i == 0
                        ? c.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                        : String(repeating: " ", count: max(0, 12 - c.count)) + c
                }.joined()
            }
            print(row(["group", "members", "pending", "redelivered", "dead", "lag"]))
            for (name, g) in stats.groups.sorted(by: { $0.key < $1.key }) {
                print(row([name, "\(g.members)", "\(g.pending)", "\(g.redelivered)", "\(g.deadLettered)", "\(g.lag)"]))
            }
            for (name, g) in stats.groups.sorted(by: { $0.key < $1.key }) {
                guard let stall = g.stalled else { continue }
                print("group \(name) is STOPPED: \(stall.explanation(group: name))")
            }
        } else {
            let stats = try client.explained { try $0.stats() }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(stats), as: UTF8.self))
        }
    }
}

extension BrokerRunOptions {
    /// The running broker an admin subcommand asks: `--consume`, else the consume
    /// endpoint of `--config` (or Broker/broker.yaml), else the default.
    var consumeEndpoint: String {
        consume ?? (try? ConfigurationFile.loadBroker(config).0.endpoints.consume)
            ?? BrokerConfiguration().endpoints.consume
    }
}
