import ArgumentParser
import Foundation
import Logging
import MetroRegistry
import ServiceLifecycle

/// `metro registry`: runs the service registry (protocol.md §5) until SIGTERM/SIGINT.
/// Prints `ready {"endpoint":"tcp://..."}` on stdout once bound; logs to stderr.
struct RegistryCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry", abstract: "Run the service registry (REQ clients; protocol.md §5).")

    @Option(help: "Endpoint to bind; tcp://127.0.0.1:* picks a free port.")
    var endpoint = "tcp://127.0.0.1:7400"

    @Option(help: "The broker's publish (XSUB) endpoint for membership events; none: not published.")
    var broker: String?

    @Option(name: .customLong("min-ttl-ms"), help: "Smallest lease a REGISTER may ask for.")
    var minTTL: UInt64 = 100

    @Option(name: .customLong("max-ttl-ms"), help: "Largest lease a REGISTER may ask for.")
    var maxTTL: UInt64 = 600_000

    @Option(name: .customLong("sweep-interval-ms"), help: "Longest wait between lease sweeps.")
    var sweepInterval = 100

    @Option(help: "Prometheus HTTP endpoint host:port for the registry's counters (port 0 picks one; empty: none).")
    var metrics = ""

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard minTTL > 0, minTTL <= maxTTL else { throw ValidationError("need 0 < --min-ttl-ms <= --max-ttl-ms") }
        guard maxTTL <= 86_400_000 else { throw ValidationError("--max-ttl-ms is at most one day (86400000)") }
        guard sweepInterval > 0 else { throw ValidationError("--sweep-interval-ms must be positive") }
    }

    func run(_ process: ProcessBootstrap) async throws {
        let logger = Logger(label: "metro.registry")
        // The registry counts with swift-metrics (bootstrapped before the loop
        // creates its counters); with an endpoint, its registry is served.
        let metricsEndpoint = metrics.isEmpty ? nil : MetricsEndpoint(listen: metrics, registry: process.prometheus)
        let server = try RegistryServer(
            configuration: .init(
                endpoint: endpoint, brokerEndpoint: broker, ttlRange: minTTL...maxTTL,
                sweepIntervalMilliseconds: sweepInterval),
            logger: logger)
        logger.info(
            "registry listening", metadata: ["endpoint": "\(server.endpoint)", "broker": "\(broker ?? "none")"])
        try await runServices([server], ready: ["endpoint": server.endpoint], metrics: metricsEndpoint, logger: logger)
    }
}

/// The readiness line every long-running `metro` command prints once its sockets are
/// bound (`ready {json}`), written straight to fd 1 so no buffer delays it
/// (`runServices` prints it once the service group runs).
enum ReadyLine {
    static func print(_ fields: [String: String]) {
        let json =
            (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        FileHandle.standardOutput.write(Data("ready ".utf8) + json + Data("\n".utf8))
    }
}
