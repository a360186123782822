import ArgumentParser
import Hummingbird
import Logging
import NIOCore
import Prometheus

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
    func application(
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
