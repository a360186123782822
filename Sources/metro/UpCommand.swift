import ArgumentParser
import Foundation
import Logging
import MetroBroker
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `metro up`: the whole system on one machine, on embedded defaults. It starts
/// the broker and the registry as child processes of this same binary (so each
/// can be killed and watched on its own, exactly as in production), restarts a
/// child that dies, and stops them all on SIGINT/SIGTERM. Each child's output is
/// prefixed with its name; `metro up` prints one ready line of its own once every
/// child is ready (`UpReadiness`). A child that cannot bind an endpoint stops it.
struct UpCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Run the broker and the registry together, restarting any that dies."
    )

    @Option(help: "Folder for all data (the broker's journal goes to <data-dir>/broker).")
    var dataDir = "data"

    @Option(help: "The broker configuration file (default: Broker/broker.yaml if present).")
    var config: String?

    @Option(help: "Registry endpoint to bind.")
    var registry = "tcp://127.0.0.1:7400"

    /// Also given to the children, so `metro up --log-level debug` logs everything at debug.
    @OptionGroup var global: GlobalOptions

    func run(_ process: ProcessBootstrap) async throws {
        let logger = Logger(label: "metro.up")
        let (broker, _) = try ConfigurationFile.loadBroker(config)
        var brokerArgs = ["broker", "--data-dir", dataDir + "/broker"] + process.childArguments
        if let config { brokerArgs += ["--config", config] }
        let children = [
            ChildSpec(name: "broker", arguments: brokerArgs),
            ChildSpec(
                name: "registry",
                arguments: ["registry", "--endpoint", registry, "--broker", broker.endpoints.publish]
                    + process.childArguments),
        ]
        let ready = UpReadiness(children: children.map(\.name), logger: logger)
        let supervisor = Supervisor(children: children, logger: logger) {
            ready.childReady($0, fields: $1, restarted: $2)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: supervisor)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Gathers the children's ready lines into `metro up`'s one ready line
/// (docs/operations.md, "Readiness line"): the broker's fields as they are, and
/// each other child's `endpoint` under its name (`registry`). Printed once, when
/// the last child is first ready; a restarted child's ready line is only logged.
final class UpReadiness: Sendable {
    private let children: [String]
    private let logger: Logger
    private let state = Mutex<(fields: [String: String], ready: Set<String>, printed: Bool)>(([:], [], false))
    private let started = ContinuousClock.now

    init(children: [String], logger: Logger) {
        self.children = children
        self.logger = logger
    }

    func childReady(_ child: String, fields: [String: String], restarted: Bool) {
        let line: [String: String]? = state.withLock { state in
            if child == "broker" {
                state.fields.merge(fields) { _, new in new }
            } else if let endpoint = fields["endpoint"] {
                state.fields[child] = endpoint
            }
            state.ready.insert(child)
            guard !state.printed, state.ready.isSuperset(of: children) else { return nil }
            state.printed = true
            return state.fields
        }
        if restarted { logger.notice("\(child) is ready again", metadata: ["endpoints": "\(fields)"]) }
        if var line {
            let elapsed = ContinuousClock.now - started
            let ms = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
            line["readyMs"] = "\(ms)"
            ReadyLine.print(line)
        }
    }
}
