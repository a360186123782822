package import MetroProtocol
package import ZeroMQ

/// A foreign client: raw frames over a plain REQ socket, as pyzmq would send them.
/// Each request waits up to 5 s for its reply, on a thread of its own
/// (`offPool`), so a test never hangs on a lost reply and never blocks the pool.
///
/// Threading: one request at a time (a REQ socket's rule anyway); the socket
/// moves to each request's thread, `offPool` providing the memory barriers.
package final class RawRegistryClient: @unchecked Sendable {
    package let context: Context
    package let endpoint: String
    private var socket: Socket

    package init(context: Context, endpoint: String) throws {
        self.context = context
        self.endpoint = endpoint
        socket = try Self.open(context, endpoint)
    }

    private static func open(_ context: Context, _ endpoint: String) throws -> Socket {
        let s = try context.socket(.req)
        try s.set(.linger(milliseconds: 0))
        try s.set(.receiveTimeout(milliseconds: 5000))
        try s.connect(endpoint)
        return s
    }

    /// Sends `frames` and returns the reply frames (after the REQ envelope). After a
    /// lost reply the REQ socket is replaced (Lazy Pirate), and this throws.
    package func request(_ frames: [[UInt8]]) async throws -> [[UInt8]] {
        try await offPool { try self.requestBlocking(frames) }
    }

    private func requestBlocking(_ frames: [[UInt8]]) throws -> [[UInt8]] {
        try socket.send(multipart: frames)
        guard let reply = try socket.receiveMultipart() else {
            socket.close()
            socket = try Self.open(context, endpoint)
            throw WaitError.timedOut("no reply from the registry")
        }
        return reply
    }

    /// Sends a typed request and decodes the reply.
    package func request(_ r: RegistryRequest) async throws -> RegistryReply {
        try RegistryReply.decode(await request(r.encode())).get()
    }

    /// The error code of the reply to `frames`, or nil for OK.
    package func errorCode(_ frames: [[UInt8]]) async throws -> WireErrorCode? {
        guard case .error(let e) = try RegistryReply.decode(await request(frames)).get() else { return nil }
        return e.code
    }

    package func lookup(_ service: String) async throws -> [InstanceInfo] {
        try await request(.lookup(service: service)).result(LookupResult.self).get().instances
    }

    package func list() async throws -> [InstanceStatus] {
        try await request(.list).result(ListResult.self).get().instances
    }

    package func stats() async throws -> RegistryStats {
        try await request(.stats).result(RegistryStats.self).get()
    }

    /// Closes the socket; call it from the test's task after the last request.
    package func close() { socket.close() }
}
