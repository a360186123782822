public import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Requests to the gateway: the recommendation GETs, the uploads' POSTs and the
/// `/readyz` probe. Foundation's URLSession (as `metro doctor` uses it): async,
/// no new dependency, and enough for one small request at a time per operation;
/// a session of its own without caches, so each answer comes from the gateway.
public final class SoakHTTP: Sendable {
    private let session: URLSession
    /// Sent as `Authorization: Bearer` with every request (a secure system's gateway).
    private let bearerToken: String?

    public init(bearerToken: String? = nil) {
        self.bearerToken = bearerToken
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
        if let bearerToken { request.setValue("Bearer \(bearerToken)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await session.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    /// The status and body of `POST http://<address><path>` with `body`, sent as
    /// `contentType` with `X-Request-Timeout` set to `timeout`; throws as `get` does.
    public func post(_ address: String, _ path: String, body: Data, contentType: String, timeout: Duration)
        async throws -> (status: Int, body: Data)
    {
        guard let url = URL(string: "http://\(address)\(path)") else { throw URLError(.badURL) }
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        if let bearerToken { request.setValue("Bearer \(bearerToken)", forHTTPHeaderField: "Authorization") }
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        request.setValue("\(Int(seconds * 1000))", forHTTPHeaderField: "X-Request-Timeout")
        request.timeoutInterval = seconds
        let (data, response) = try await session.upload(for: request, from: body)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    public func close() { session.invalidateAndCancel() }
}
