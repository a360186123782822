import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore

/// A Prometheus endpoint: `GET /metrics` over HTTP (Hummingbird), answered with
/// the text `render` returns. The broker's renders its METRICS reply (fetched
/// over the consume socket like any client would, so nothing is shared with its
/// loop thread); the registry's renders its swift-prometheus registry. A render
/// that fails gets 503 with the reason instead of a hung scrape.
struct MetricsEndpoint: Sendable {
    /// `host:port`; port 0 picks a free one.
    let listen: String
    let render: @Sendable () async throws -> String

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
        let render = self.render
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            do {
                let text = try await render()
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: text)))
            } catch {
                logger.warning("metrics: no text to serve: \(error)")
                return Response(
                    status: .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: "no metrics: \(error)\n")))
            }
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "metro"),
            onServerRunning: { channel in
                await onRunning("\(host):\(channel.localAddress?.port ?? port)")
            },
            logger: logger)
    }

    /// Runs a blocking call (a ZeroMQ request with a timeout) on a dispatch queue,
    /// not on a thread of Swift's cooperative pool.
    static func offThePool(_ body: @escaping @Sendable () throws -> String) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }
}
