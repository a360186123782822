import GRDB
import Logging
public import MetroKit
public import MetroProtocol
import Synchronization

extension ServiceDefinition {
    /// Serves `method` with `handler`, which gets the decoded request, the call's
    /// context (deadline, correlation id, logger with `request-id`) and the store.
    ///
    /// The body decodes strictly (403 `bad-request` otherwise); `RpcError` answers
    /// with its code, any other error with 107 `internal-error`. Events published in
    /// `store.write(context) { tx in try tx.publish(...) }` carry the call's
    /// `requestId` and `traceparent`.
    ///
    /// `placement` says which thread runs it: see `RpcPlacement`; `.task` unless the
    /// handler only reads the store and answers.
    public mutating func rpc<Request, Response>(
        _ method: RpcMethod<Request, Response>, placement: RpcPlacement = .task,
        _ handler: @escaping @Sendable (Request, RpcContext, ServiceStore) async throws -> Response
    ) {
        declare(method.name, placement) { router, store in
            router.register(method, Self.served(method.name, placement, store, handler))
        }
    }

    /// Serves a method whose answer is a head and raw bytes (protocol.md §6.9), as
    /// `rpc(_:placement:_:)` serves one whose answer is JSON.
    public mutating func rpc<Request, Head>(
        _ method: RpcBytesReplyMethod<Request, Head>, placement: RpcPlacement = .task,
        _ handler: @escaping @Sendable (Request, RpcContext, ServiceStore) async throws -> RpcBytes<Head>
    ) {
        declare(method.name, placement) { router, store in
            router.register(method, Self.served(method.name, placement, store, handler))
        }
    }

    /// Serves a method whose request is a head and raw bytes (protocol.md §6.9).
    public mutating func rpc<Head, Response>(
        _ method: RpcBytesRequestMethod<Head, Response>, placement: RpcPlacement = .task,
        _ handler: @escaping @Sendable (RpcBytes<Head>, RpcContext, ServiceStore) async throws -> Response
    ) {
        declare(method.name, placement) { router, store in
            router.register(method, Self.served(method.name, placement, store, handler))
        }
    }

    private mutating func declare(
        _ name: String, _ placement: RpcPlacement,
        register: @escaping @Sendable (inout RpcRouter, ServiceStore) -> Void
    ) {
        precondition(!rpcMethods.contains { $0.name == name }, "rpc method \"\(name)\" declared twice")
        rpcMethods.append(RpcRegistration(name: name, placement: placement, register: register))
    }

    /// A handler as the router runs it: timed and counted by outcome, its writes
    /// tracked, a refused write that committed nothing answered 205.
    private static func served<Request, Response>(
        _ name: String, _ placement: RpcPlacement, _ store: ServiceStore,
        _ handler: @escaping @Sendable (Request, RpcContext, ServiceStore) async throws -> Response
    ) -> @Sendable (Request, RpcContext) async throws -> Response {
        let inline = placement == .inline
        return { request, context in
            let start = ContinuousClock.now
            var code = "ok"
            defer { RuntimeMetrics.rpc(method: name, code: code, seconds: (.now - start).seconds) }
            let writes = CallWrites()
            do {
                return try await ServiceStore.$callWrites.withValue(writes) {
                    guard inline else { return try await handler(request, context, store) }
                    return try await ServiceStore.$readsInPlace.withValue(true) {
                        try await handler(request, context, store)
                    }
                }
            } catch let e as RpcError {
                code = e.code.name
                throw e
            } catch let refused where !writes.any && StorageFault.refusedWrite(refused) != nil {
                // The write rolled back whole and no earlier write of this call
                // committed: the call had no effect (protocol.md §6.4). A full
                // disk is an operator's condition, not a bug in the handler, so
                // not a 107; and not a 109 either: every instance shares this
                // database, so neither another instance nor a circuit breaker
                // helps. The caller retries later.
                code = WireErrorCode.storageFailure.name
                let reason = StorageFault.refusedWrite(refused) ?? ""
                RefusedWriteLog.shared.warn(context.logger, method: name, reason: reason, error: refused)
                throw RpcError(.storageFailure, "\(name): \(reason); nothing was written (retry later)")
            } catch {
                code = WireErrorCode.internalError.name
                throw error
            }
        }
    }
}

/// Which thread runs an rpc handler (`ServiceDefinition.rpc(_:placement:_:)`).
public enum RpcPlacement: Sendable, Equatable {
    /// A task of its own on Swift's cooperative pool, and `ServiceStore.read` waits
    /// for one of GRDB's reader threads: the handler may take its time, and the
    /// instance goes on answering other calls meanwhile. The default.
    case task
    /// On the thread that owns the rpc socket, and `ServiceStore.read` runs right
    /// there, synchronously: no thread is woken to start the handler, to read or to
    /// send the answer (about 40% of a `profile.get`'s CPU in the worker,
    /// docs/performance.md, "Inline reads"). While the handler runs the instance
    /// reads and answers no other call, so it is only for handlers that answer
    /// from a short read: a lookup by key, a page of bounded size. A write
    /// (`store.write`) or any other `await` in one still suspends without holding
    /// the thread.
    case inline
}

/// One `rpc(...)`: registers its typed handler on the router once the store is open.
struct RpcRegistration: Sendable {
    let name: String
    let placement: RpcPlacement
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

/// One warning per second at most for rpc writes refused by the storage (each refused
/// call also counts in `metro_service_rpc_requests_total{code="storage-failure"}`).
final class RefusedWriteLog: Sendable {
    static let shared = RefusedWriteLog()
    private let limiter = Mutex(LogLimiter(period: .seconds(1)))

    func warn(_ logger: Logger, method: String, reason: String, error: any Error) {
        guard let held = limiter.withLock({ $0.allow() }) else { return }
        logger.warning(
            "rpc write refused: \(reason)",
            metadata: [
                "method": .string(method), "error": "\(Self.text(of: error))",
                "refused-since-last-line": "\(held)",
            ])
    }

    /// SQLite's message (or its result code); any other error's description.
    private static func text(of error: any Error) -> String {
        guard let e = error as? DatabaseError else { return "\(error)" }
        return e.message ?? "\(e.resultCode)"
    }
}
