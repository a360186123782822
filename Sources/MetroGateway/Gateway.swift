import HTTPTypes
public import Hummingbird
import HummingbirdCore
import HummingbirdTLS
public import Logging
public import MetroKit
import NIOSSL
public import ServiceLifecycle

/// The HTTP front door (issue 17): a Hummingbird 2 application whose routes map
/// to rpc calls on the services, found through the registry (`Upstream`), and to
/// acknowledged publishes (`EventSink`). Each upstream has an adaptive
/// concurrency limit (`ConcurrencyGate`): over it, a request is shed at once with
/// 429 and `Retry-After` instead of queueing. Errors are RFC 9457 problems
/// (`Problem`), requests carry an id and a deadline into the rpc
/// (`GatewayMiddleware`), and the routes are those of docs/openapi.yaml.
///
/// The gateway owns no sockets itself: the clients it is given do (each on its
/// own I/O thread); `metro gateway` runs them and the application in one
/// `ServiceGroup`.
public final class Gateway: Sendable {
    public let configuration: GatewayConfiguration
    let profiles: Upstream
    let videos: Upstream
    let recommendations: Upstream
    let events: EventSink
    let registry: RegistryClient
    let readiness: @Sendable () async -> [String: String?]
    let metricsText: @Sendable () -> [UInt8]
    let metrics: GatewayMetrics
    let logger: Logger

    /// `readiness` asks the broker and the registry and returns, per dependency,
    /// nil when it answered or why not; `metricsText` renders `GET /metrics`.
    public init(
        configuration: GatewayConfiguration, registry: RegistryClient, publisher: Publisher,
        rpcOptions: RpcClient.Options = .init(), logger: Logger,
        readiness: @escaping @Sendable () async -> [String: String?],
        metricsText: @escaping @Sendable () -> [UInt8]
    ) throws {
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        self.readiness = readiness
        self.metricsText = metricsText
        let metrics = GatewayMetrics()
        self.metrics = metrics
        func upstream(_ service: String) throws -> Upstream {
            let rpc = try RpcClient(service: service, registry: registry, options: rpcOptions, logger: logger)
            return Upstream(
                service: service, rpc: rpc, gate: ConcurrencyGate(service: service, configuration: configuration.limit),
                metrics: metrics)
        }
        profiles = try upstream("profiles")
        videos = try upstream("video")
        recommendations = try upstream("recommendations")
        events = EventSink(
            publisher: publisher, gate: ConcurrencyGate(service: "broker", configuration: configuration.limit),
            metrics: metrics)
    }

    /// The clients to run next to the application (their I/O threads), in start order.
    public var clients: [any Service] {
        [registry, events.publisher, profiles.rpc, videos.rpc, recommendations.rpc]
    }

    /// The router with every route and the middleware; `table.all` lists the routes.
    func makeRouter() -> (Router<GatewayContext>, RouteTable) {
        // Routes first into a table of their own, so that the middleware (which
        // must be added before them) knows every route for its 405 answers.
        let listing = RouteTable(Router(context: GatewayContext.self))
        addRoutes(listing)
        // Every GET answers HEAD too: the GET's status and headers (Content-Length
        // included), no body (RFC 9110 §9.3.2).
        let router = Router(context: GatewayContext.self, options: .autoGenerateHeadEndpoints)
        router.add(
            middleware: GatewayMiddleware(
                defaultTimeout: configuration.defaultTimeout, maxTimeout: configuration.maxTimeout, metrics: metrics,
                routes: listing.all))
        let table = RouteTable(router, auth: configuration.auth, metrics: metrics)
        addRoutes(table)
        return (router, table)
    }

    private func addRoutes(_ table: RouteTable) {
        addUserRoutes(table)
        addVideoRoutes(table)
        addUploadRoute(table)
        addMediaRoutes(table)
        addOperationRoutes(table)
    }

    /// Every route the server serves, with its statuses (for the document's test).
    public var routes: [RouteSpec] { makeRouter().1.all }

    /// The application; `onRunning` gets the `host:port` bound, once it accepts connections.
    /// Throws when the TLS files do not load.
    public func application(onRunning: @escaping @Sendable (String) async -> Void) throws -> some ApplicationProtocol {
        let host = configuration.host
        let port = configuration.port
        var server = HTTPServerBuilder.http1()
        if let tls = configuration.tls { server = try .tls(server, tlsConfiguration: Self.tlsConfiguration(tls)) }
        return Application(
            router: makeRouter().0, server: server,
            configuration: .init(
                address: .hostname(host, port: port), serverName: "metro-gateway",
                availableConnectionsDelegate: MaximumAvailableConnections(configuration.maxConnections, logger: logger)),
            onServerRunning: { channel in await onRunning("\(host):\(channel.localAddress?.port ?? port)") },
            logger: logger)
    }

    /// A server configuration from PEM files; the error names the file that does not load.
    static func tlsConfiguration(_ files: TLSFiles) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.certificatePath)
        } catch {
            throw AuthFileError(path: files.certificatePath, reason: "not a PEM certificate: \(error)")
        }
        guard !chain.isEmpty else { throw AuthFileError(path: files.certificatePath, reason: "no certificate in it") }
        do {
            key = try NIOSSLPrivateKey(file: files.keyPath, format: .pem)
        } catch {
            throw AuthFileError(path: files.keyPath, reason: "not a PEM private key: \(error)")
        }
        return TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
    }
}
