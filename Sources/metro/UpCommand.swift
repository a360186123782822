import ArgumentParser
import Foundation
import Logging
import MetroBroker
import ServiceLifecycle
import UnixSignals

/// `metro up`: the whole system on one machine, on embedded defaults. It starts
/// the broker and the registry as child processes of this same binary (so each
/// can be killed and watched on its own, exactly as in production), restarts a
/// child that dies, and stops them all on SIGINT/SIGTERM.
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
        let supervisor = Supervisor(children: children, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: supervisor)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
