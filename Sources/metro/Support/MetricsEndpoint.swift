import ArgumentParser
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import Synchronization

/// A Prometheus endpoint: `GET /metrics` over HTTP (Hummingbird), answered with
/// the process's swift-prometheus registry (`ProcessBootstrap.prometheus`), the
/// backend of its swift-metrics. Rendering reads the registry's atomics on the
/// HTTP server's thread: a scrape sends nothing to the process's own sockets and
/// takes nothing from the broker's loop (which publishes into the registry once a
/// second, `BrokerMetrics`).
struct MetricsEndpoint: Sendable {
    /// `host:port`; port 0 picks a free one.
    let listen: String
    let registry: PrometheusCollectorRegistry

    /// The application, which calls `onRunning` with the `host:port` actually
    /// bound once it accepts connections.
    /// A failure to start listening (the port is taken) ends the service with
    /// `EndpointUnavailable` naming this endpoint, not NIO's bare
    /// `bind(descriptor:ptr:bytes:): Address already in use`.
    func application(
        logger: Logger, onRunning: @escaping @Sendable (String) async -> Void
    ) throws -> some Service {
        let started = StartedFlag()
        let app = try hummingbird(
            logger: logger,
            onRunning: { address in
                started.value.store(true, ordering: .releasing)
                await onRunning(address)
            })
        return NamedFailure(endpoint: "metrics \(listen)", started: started, app: app)
    }

    private func hummingbird(
        logger: Logger, onRunning: @escaping @Sendable (String) async -> Void
    ) throws -> some ApplicationProtocol {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw ValidationError("a metrics endpoint is host:port, got \"\(listen)\"")
        }
        let host = String(listen[..<colon])
        let registry = self.registry
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            var text: [UInt8] = []
            registry.emit(into: &text)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: text)))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "metro"),
            onServerRunning: { channel in
                await onRunning("\(host):\(channel.localAddress?.port ?? port)")
            },
            logger: logger)
    }
}

/// Runs `app`; an error before it listened means its endpoint could not be bound.
private struct NamedFailure<App: ApplicationProtocol>: Service {
    let endpoint: String
    let started: StartedFlag
    let app: App

    func run() async throws {
        do {
            try await app.run()
        } catch  where !started.value.load(ordering: .acquiring) {
            throw EndpointUnavailable(endpoint: endpoint, reason: "\(error)")
        }
    }
}

/// Set once the server listens (shared by the callback and the service).
private final class StartedFlag: Sendable {
    let value = Atomic<Bool>(false)
}
