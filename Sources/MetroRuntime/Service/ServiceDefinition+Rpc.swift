public import MetroKit
public import MetroProtocol

extension ServiceDefinition {
    /// Serves `method` with `handler`, which gets the decoded request, the call's
    /// context (deadline, correlation id, logger with `request-id`) and the store.
    ///
    /// The body decodes strictly (403 `bad-request` otherwise); `RpcError` answers
    /// with its code, any other error with 107 `internal-error`. Events published in
    /// `store.write(context) { tx in try tx.publish(...) }` carry the call's
    /// `requestId` and `traceparent`.
    public mutating func rpc<Request, Response>(
        _ method: RpcMethod<Request, Response>,
        _ handler: @escaping @Sendable (Request, RpcContext, ServiceStore) async throws -> Response
    ) {
        precondition(!rpcMethods.contains { $0.name == method.name }, "rpc method \"\(method.name)\" declared twice")
        rpcMethods.append(
            RpcRegistration(name: method.name) { router, store in
                router.register(method) { request, context in
                    let start = ContinuousClock.now
                    var code = "ok"
                    defer { RuntimeMetrics.rpc(method: method.name, code: code, seconds: (.now - start).seconds) }
                    do {
                        return try await handler(request, context, store)
                    } catch let e as RpcError {
                        code = e.code.name
                        throw e
                    } catch {
                        code = WireErrorCode.internalError.name
                        throw error
                    }
                }
            })
    }
}

/// One `rpc(...)`: registers its typed handler on the router once the store is open.
struct RpcRegistration: Sendable {
    let name: String
    let register: @Sendable (inout RpcRouter, ServiceStore) -> Void
}

extension ServiceStore {
    /// `write`, with the rpc call's `requestId` and `traceparent` copied into the
    /// headers of the events the transaction publishes.
    public func write<T: Sendable>(
        _ context: RpcContext, _ body: @escaping @Sendable (ServiceTransaction) throws -> T
    ) async throws -> T {
        try await write(
            correlation: EventHeaders(requestId: context.correlationID, traceparent: context.traceparent), body)
    }
}
