import ArgumentParser
import Foundation
import Hummingbird
import Logging
import MetroKit
import NIOCore

/// The broker's Prometheus endpoint: `GET /metrics` over HTTP (Hummingbird),
/// answered with the broker's METRICS reply (protocol.md §4.5), fetched over
/// the consume socket like any client would. Nothing is shared with the
/// broker's loop thread, and a broker that does not answer within the timeout
/// gets 503 instead of a hung scrape.
enum MetricsEndpoint {
    /// An application serving `listen` (`host:port`; port 0 picks one). It calls
    /// `onRunning` with the `host:port` actually bound once it accepts.
    static func application(
        listen: String, consumeEndpoint: String, logger: Logger,
        onRunning: @escaping @Sendable (String) async -> Void
    ) throws -> some ApplicationProtocol {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw ValidationError("the metrics endpoint must be host:port, got \"\(listen)\"")
        }
        let host = String(listen[..<colon])
        let client = BrokerAdminClient(consumeEndpoint: consumeEndpoint, timeout: .seconds(2))
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            do {
                let text = try await fetch(client)
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: text)))
            } catch {
                logger.warning("metrics: the broker did not answer METRICS: \(error)")
                return Response(
                    status: .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: "the broker did not answer METRICS: \(error)\n")))
            }
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "metro-broker"),
            onServerRunning: { channel in
                await onRunning("\(host):\(channel.localAddress?.port ?? port)")
            },
            logger: logger)
    }

    /// The METRICS request blocks (a ZeroMQ receive with a timeout): it runs on a
    /// dispatch queue, not on a thread of Swift's cooperative pool.
    private static func fetch(_ client: BrokerAdminClient) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try client.metrics() })
            }
        }
    }
}
