import ArgumentParser
import Foundation
import Logging
import MetroRegistry
import ServiceLifecycle

/// `metro registry`: runs the service registry (protocol.md §5) until SIGTERM/SIGINT.
/// Prints `ready {"endpoint":"tcp://..."}` on stdout once bound; logs to stderr.
struct RegistryCommand: AsyncParsableCommand {
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

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        guard minTTL > 0, minTTL <= maxTTL else { throw ValidationError("need 0 < --min-ttl-ms <= --max-ttl-ms") }
        guard maxTTL <= 86_400_000 else { throw ValidationError("--max-ttl-ms is at most one day (86400000)") }
        guard sweepInterval > 0 else { throw ValidationError("--sweep-interval-ms must be positive") }
    }

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "metro.registry")
        let server = try RegistryServer(
            configuration: .init(
                endpoint: endpoint, brokerEndpoint: broker, ttlRange: minTTL...maxTTL,
                sweepIntervalMilliseconds: sweepInterval),
            logger: logger)
        logger.info("registry listening", metadata: ["endpoint": "\(server.endpoint)", "broker": "\(broker ?? "none")"])
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: server), .init(service: ReadyLine(fields: ["endpoint": server.endpoint])),
                    SupervisorWatch(logger: logger).configuration,
                ], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// The readiness line every long-running `metro` command prints once its sockets are
/// bound (`ready {json}`), written straight to fd 1 so no buffer delays it. As a
/// `Service`, last in the group, it prints once the group runs, so the signal handlers
/// are installed by then and a SIGTERM right after `ready` is a graceful stop.
struct ReadyLine: Service {
    let fields: [String: String]

    func run() async throws {
        Self.print(fields)
        try? await gracefulShutdown()
    }

    static func print(_ fields: [String: String]) {
        let json = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        FileHandle.standardOutput.write(Data("ready ".utf8) + json + Data("\n".utf8))
    }
}
