import ArgumentParser
import Foundation
import Logging
import MetroRegistry
import MetroSecurity
import ServiceLifecycle
import ZeroMQ

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

    @Option(
        name: .customLong("warm-up-ms"),
        help:
            "After a start, LOOKUP says `warming` this long, so callers keep instances a previous run knew until they register again; at least the instances' longest heartbeat interval."
    )
    var warmUp: UInt64 = 15_000

    @Option(help: "Prometheus HTTP endpoint host:port for the registry's counters (port 0 picks one; empty: none).")
    var metrics = ""

    @Option(help: "CURVE on, with this secret key file (NAME.key, mode 0600); needs --allow-list (protocol.md §7).")
    var curveSecretKey: String?

    @Option(help: "The allow-list of client identities (YAML, protocol.md §7.3); reloaded on SIGHUP.")
    var allowList = ""

    @Option(help: "A CURVE broker's public key file (.pub): the registry's PUB then uses its own key as a client.")
    var brokerPublicKey: String?

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
        var configuration = RegistryServer.Configuration(
            endpoint: endpoint, brokerEndpoint: broker, ttlRange: minTTL...maxTTL,
            sweepIntervalMilliseconds: sweepInterval)
        configuration.warmUpMilliseconds = warmUp
        configuration.security = try CurveSecurity.server(
            secretKeyFile: curveSecretKey, allowList: allowList, domain: "metro.registry", logger: logger)
        if let brokerPublicKey {
            guard let own = configuration.security?.keys else {
                throw ValidationError("--broker-public-key needs --curve-secret-key (the registry's own key pair)")
            }
            configuration.brokerCurve = CurveCredentials(
                keys: own, serverPublicKey: try KeyFiles.loadPublic(brokerPublicKey))
        }
        let server = try RegistryServer(configuration: configuration, logger: logger)
        logger.info(
            "registry listening", metadata: ["endpoint": "\(server.endpoint)", "broker": "\(broker ?? "none")"])
        var services: [any Service] = [server]
        var ready = ["endpoint": server.endpoint]
        if let security = configuration.security {
            services.append(await HangupReloader.allowList(security.authenticator, logger: logger))
            ready["curvePublicKey"] = security.keys.publicKey
        }
        try await runServices(services, ready: ready, metrics: metricsEndpoint, logger: logger)
    }
}

/// The readiness line every long-running `metro` command prints once its sockets are
/// bound (`ready {json}`), written straight to fd 1 so no buffer delays it
/// (`runServices` prints it once the service group runs). Under systemd
/// (`Type=notify`) it also tells the service manager: `READY=1` and `status`
/// (by default `ready` and the fields), after the line is written.
enum ReadyLine {
    static func print(_ fields: [String: String], status: String? = nil) {
        let json =
            (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        FileHandle.standardOutput.write(Data("ready ".utf8) + json + Data("\n".utf8))
        let summary =
            status ?? "ready "
            + fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        SystemdNotifier.shared?.send(["READY=1", "STATUS=\(summary)"])
    }
}
