package import ZeroMQ

extension Socket {
    /// `receiveMultipart()` on a thread of its own (`offPool`): waits up to the
    /// socket's receive timeout without holding a thread of the cooperative pool
    /// (docs/performance.md: blocking receives in test bodies starved it). nil
    /// after the timeout. The socket moves to that thread for the call; nothing
    /// else may use it meanwhile (the rule of `offPool`).
    package func receiveOffPool() async throws -> [[UInt8]]? {
        nonisolated(unsafe) let socket = self
        return try await offPool("test-receive") { try socket.receiveMultipart() }
    }
}
