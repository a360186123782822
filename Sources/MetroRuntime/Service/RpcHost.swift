import Logging

/// SEAM until branch `rpc-server` (spec A/B: `RpcServer`, `RpcRouter`) is merged:
/// the runtime's view of its rpc server. Without it the runtime serves no rpc.
final class RpcHost: Sendable {
    init(definition: ServiceDefinition, bind: String, drainTimeout: Duration, logger: Logger) throws {}
    /// Binds; returns the endpoint bound, nil when there is nothing to serve.
    func start() async throws -> String? { nil }
    /// Graceful shutdown step 1: new calls are answered 109; waits for those in flight.
    func drain() async {}
    func close() async {}
}
