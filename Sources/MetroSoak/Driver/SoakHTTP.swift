public import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// GETs to the gateway: the recommendation requests and the `/readyz` probe.
/// Foundation's URLSession (as `metro doctor` uses it): async, no new
/// dependency, and enough for one small GET at a time per operation; a session
/// of its own without caches, so each answer comes from the gateway.
public final class SoakHTTP: Sendable {
    private let session: URLSession

    public init() {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.httpMaximumConnectionsPerHost = 64
        session = URLSession(configuration: configuration)
    }

    /// The status and body of `GET http://<address><path>`; throws on a transport
    /// failure or when `timeout` passes (URLError.timedOut).
    public func get(_ address: String, _ path: String, timeout: Duration) async throws -> (status: Int, body: Data) {
        guard let url = URL(string: "http://\(address)\(path)") else { throw URLError(.badURL) }
        var request = URLRequest(url: url)
        request.timeoutInterval = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        let (data, response) = try await session.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    public func close() { session.invalidateAndCancel() }
}
