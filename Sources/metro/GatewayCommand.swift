import ArgumentParser
import Foundation
import Logging
import MetroGateway
import MetroKit
import MetroSecurity
import Prometheus
import ServiceLifecycle
import UnixSignals

/// `metro gateway`: the HTTP front door (MetroGateway; routes in docs/openapi.yaml).
/// Prints `ready {"http":"host:port"}` once it accepts connections; `GET /metrics`
/// on the same port serves the process's Prometheus registry.
struct GatewayCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway", abstract: "Run the HTTP gateway (docs/openapi.yaml).")

    @Option(help: "Where HTTP listens, host:port (port 0 picks a free one).")
    var listen = "127.0.0.1:8080"
    @Option(name: .customLong("registry"), help: "Registry endpoint (repeat for a fallback).")
    var registries: [String] = ["tcp://127.0.0.1:7400"]
    @Option(help: "The broker's events (XPUB) endpoint: membership events keep the registry cache fresh.")
    var brokerEvents = "tcp://127.0.0.1:7703"
    @Option(help: "The broker's ingest (ROUTER) endpoint: acknowledged publishes (video.watched).")
    var brokerIngest = "tcp://127.0.0.1:7701"
    @Option(help: "The broker's consume (ROUTER) endpoint: asked by GET /readyz.")
    var brokerConsume = "tcp://127.0.0.1:7704"
    @Option(help: "A JSON request body above this many bytes gets 413.")
    var maxBodyBytes = 64 * 1024
    @Option(help: "An upload (POST /v1/videos) above this many bytes gets 413.")
    var maxUploadBytes: Int64 = 1 << 30
    @Option(help: "The most bytes per video.upload.bytes call (the video service takes at most 524288).")
    var uploadChunkBytes = 512 * 1024
    @Option(help: "The most bytes per video.media.bytes call (a piece of a thumbnail or preview; 1-524288).")
    var mediaPieceBytes = 512 * 1024
    @Option(help: "Open HTTP connections at most (more wait in the listen backlog).")
    var maxConnections = 1024
    @Option(help: "A request's deadline without X-Request-Timeout, in milliseconds.")
    var defaultTimeoutMs = 5000
    @Option(help: "The cap on X-Request-Timeout, in milliseconds.")
    var maxTimeoutMs = 30_000
    @Option(help: "Each upstream's adaptive concurrency limit: its starting value.")
    var initialLimit = 20
    @Option(help: "Each upstream's adaptive concurrency limit: its ceiling.")
    var maxLimit = 500
    @Option(
        help: ArgumentHelp(
            "Each upstream's adaptive limit never shrinks while the round trip is under this many ms (0: off).",
            discussion:
                "Latency under it is not taken as overload, however far above its baseline (docs/operations.md)."
        ))
    var limitLatencyFloorMs = 5
    @Option(
        help: ArgumentHelp(
            "Turn authentication on: the HS256 secret (mode 0600) of bearer tokens (docs/gateway-auth.md).",
            discussion:
                "Make it with `metro gateway-auth secret PATH`, tokens with `metro gateway-auth token`. Reloaded on SIGHUP."
        ))
    var authSecretFile: String?
    @Option(help: "Turn authentication on: API keys, one `KEY SUBJECT ROLE` a line (mode 0600); reloaded on SIGHUP.")
    var apiKeysFile: String?
    @Option(help: "Serve HTTPS: the certificate chain, PEM (with --tls-key).")
    var tlsCert: String?
    @Option(help: "Serve HTTPS: the certificate's private key, PEM (with --tls-cert).")
    var tlsKey: String?

    /// CURVE to the broker, the registry and the services (identity default: gateway).
    @OptionGroup var keys: ClientKeyOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard maxBodyBytes > 0, maxUploadBytes > 0, uploadChunkBytes > 0, maxConnections > 0 else {
            throw ValidationError("sizes and --max-connections must be positive")
        }
        guard (1...512 * 1024).contains(mediaPieceBytes) else {
            throw ValidationError("--media-piece-bytes must be 1-524288")
        }
        guard defaultTimeoutMs > 0, maxTimeoutMs > 0 else { throw ValidationError("timeouts must be positive") }
        guard limitLatencyFloorMs >= 0 else { throw ValidationError("--limit-latency-floor-ms must be >= 0") }
        guard initialLimit >= 1, maxLimit >= initialLimit else {
            throw ValidationError("need 1 <= --initial-limit <= --max-limit")
        }
        guard listenParts != nil else { throw ValidationError("--listen is host:port, got \"\(listen)\"") }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
    }

    private var listenParts: (String, Int)? {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        return (String(listen[..<colon]), port)
    }

    func run(_ process: ProcessBootstrap) async throws {
        let logger = Logger(label: "metro.gateway")
        var configuration = GatewayConfiguration()
        (configuration.host, configuration.port) = listenParts!
        configuration.maxJSONBodyBytes = maxBodyBytes
        configuration.maxUploadBytes = maxUploadBytes
        configuration.uploadChunkBytes = uploadChunkBytes
        configuration.mediaPieceBytes = mediaPieceBytes
        configuration.maxConnections = maxConnections
        configuration.defaultTimeout = .milliseconds(defaultTimeoutMs)
        configuration.maxTimeout = .milliseconds(maxTimeoutMs)
        configuration.limit.initialLimit = initialLimit
        configuration.limit.maxLimit = maxLimit
        configuration.limit.latencyFloor = .milliseconds(limitLatencyFloorMs)
        configuration.auth = try await GatewayAuth.load(secretFile: authSecretFile, apiKeysFile: apiKeysFile)
        if let tlsCert, let tlsKey { configuration.tls = TLSFiles(certificatePath: tlsCert, keyPath: tlsKey) }

        let loaded = try keys.load(defaultIdentity: "gateway")
        var registering = RegistryClient.Configuration(
            endpoints: registries, eventsEndpoint: brokerEvents, cacheMaxAge: .seconds(10))
        registering.curve = loaded.registry
        registering.eventsCurve = loaded.broker
        let registry = try RegistryClient(configuration: registering, logger: logger)
        var publishing = Publisher.Options(ingest: brokerIngest)
        publishing.giveUpAfter = .milliseconds(maxTimeoutMs)
        publishing.curve = loaded.broker
        let publisher = try Publisher(publishing, logger: logger)
        let prometheus = process.prometheus
        let admin = BrokerAdminClient(consumeEndpoint: brokerConsume, timeout: .seconds(1), curve: loaded.broker)
        var calling = RpcClient.Options()
        calling.curveKeys = loaded?.keys
        let gateway = try Gateway(
            configuration: configuration, registry: registry, publisher: publisher, rpcOptions: calling, logger: logger,
            readiness: { await Self.readiness(registry: registry, broker: admin) },
            metricsText: {
                var text: [UInt8] = []
                prometheus.emit(into: &text)
                return text
            })
        let (tls, auth) = (configuration.tls != nil, configuration.auth != nil)
        var reloader: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let auth = configuration.auth {
            let credentials = await HangupReloader("gateway credentials", logger: logger) {
                let now = try await auth.reload()
                return ["tokens": "\(now.tokens)", "apiKeys": "\(now.apiKeys.map(String.init) ?? "-")"]
            }
            reloader = [.init(service: credentials)]
        }
        let (bound, announce) = AsyncStream.makeStream(of: String.self)
        let app = try gateway.application(onRunning: { announce.yield($0) })
        let group = ServiceGroup(
            configuration: .init(
                services: gateway.clients.map { .init(service: $0) } + reloader + [
                    .init(service: app), SupervisorWatch(logger: logger).configuration,
                    .init(service: SystemdLifecycle(notifier: SystemdNotifier.shared, logger: logger)),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                defer { announce.finish() }
                try await group.run()
            }
            for await address in bound {
                logger.info(
                    "gateway listening",
                    metadata: [
                        "http": "\(address)", "tls": "\(tls)", "auth": "\(auth)",
                    ])
                ReadyLine.print(["http": address])
                break
            }
            try await tasks.waitForAll()
        }
    }

    /// nil per dependency that answered, else why not: the registry (STATS) and
    /// the broker (its consume socket's STATS, a blocking call made on a thread
    /// of its own, never on the cooperative pool).
    static func readiness(registry: RegistryClient, broker: BrokerAdminClient) async -> [String: String?] {
        var checks: [String: String?] = [:]
        do {
            _ = try await registry.stats()
            checks["registry"] = .some(nil)
        } catch {
            checks["registry"] = "\(error)"
        }
        let brokerError: String? = await withCheckedContinuation { k in
            Thread {
                do {
                    _ = try broker.stats()
                    k.resume(returning: nil)
                } catch {
                    k.resume(returning: "\(error)")
                }
            }.start()
        }
        checks["broker"] = .some(brokerError)
        return checks
    }
}
