import Foundation
public import Logging
public import MetroProtocol
public import ServiceLifecycle
import Synchronization
public import ZeroMQ

/// Calls a service's rpc methods by name (protocol.md §6): resolves its instances
/// through the registry (LOOKUP, served from the `RegistryClient`'s cache, which
/// membership events keep fresh), balances by least outstanding requests, applies a
/// deadline to every call, retries on another instance when that is safe
/// (`RpcRetryPolicy`), and keeps a `CircuitBreaker` per instance.
///
/// Every call ends, with the response or a `MetroClientError` that says what
/// happened: `.noInstance`, `.deadlineExceeded`, `.overloaded`, `.circuitOpen`,
/// `.disconnected` (the instance went away while a non-idempotent call was out),
/// `.unreachable` (no instance could be connected to), `.cancelled`, `.closed`, or
/// `.rejected` with the server's `WireError`. No call waits for its deadline on an
/// instance known to be gone: a broken connection (socket monitor, ZMTP
/// heartbeat), a refused connect, or a `deregistered`/`expired` membership event
/// ends the calls out on it at once (protocol.md §6.8).
///
/// Threading: `Sendable`; call it from any task. The DEALERs (one per instance) live
/// on the client's `IOThread` (its rule applies); callers suspend on continuations
/// the I/O thread resumes. Cancelling a call's task makes it throw `.cancelled` at
/// once; the server may still run the handler. The thread starts on the first call
/// (or `run()`, as a `Service`); `close()` ends it, and calls still out fail with
/// `.closed`. With a registry, the first call also starts one task that follows the
/// service's membership events (an instance that leaves fails its calls at once);
/// `close()` ends it.
public final class RpcClient: Service, Sendable {
    public struct Options: Sendable {
        /// The deadline of a call that names none.
        public var defaultDeadline: Duration = .seconds(5)
        /// Each instance's circuit breaker.
        public var breaker = CircuitBreaker.Configuration()
        /// Attempts per call, the first included (retries go to other instances).
        public var maxAttempts = 3
        /// ZMTP heartbeat on each connection: a peer silent for three intervals is
        /// dropped like a disconnect (zero: off).
        public var heartbeatInterval: Duration = .seconds(1)
        /// Calls queued per connection before a send fails as "not sent" (the DEALER's HWM).
        public var sendQueueLimit = 10_000
        /// CURVE to the instances' rpc sockets: this client's key pair and the
        /// service's public key; nil (the default) speaks plain ZMTP. (Registry
        /// lookups use the `RegistryClient`'s own `curve`.)
        public var curve: CurveCredentials?
        /// CURVE with the server key each instance registered (metadata
        /// `curve-public-key`, protocol.md §7.10) and this key pair as the client's:
        /// what a caller inside a secure system uses, so that it needs no copy of
        /// each service's public key, only the registry's. `curve`, when set, wins.
        /// An instance that registered no key is then not connected to (a plain
        /// server in a secure system is a misconfiguration, not a fallback).
        public var curveKeys: CurveKeyPair?

        public init() {}

        var retry: RpcRetryPolicy { RpcRetryPolicy(maxAttempts: maxAttempts) }
    }

    /// Where the instances come from.
    private enum Source: Sendable {
        case registry(RegistryClient, service: String)
        case fixed([RpcInstanceKey])
    }

    public let options: Options
    /// The service called; for the fixed-endpoint variant, a label for logs.
    public let service: String
    private let source: Source
    let io: IOThread<RpcClientLoop>
    private let nextCallID = Atomic<UInt64>(1)
    /// The last instance list the registry gave: used when it cannot be asked.
    private let lastKnown = Mutex<[RpcInstanceKey]>([])
    private let watching = Atomic<Bool>(false)
    private let watcher = Mutex<(task: Task<Void, Never>?, closed: Bool)>((nil, false))

    /// A client of `service`'s instances as `registry` knows them. Give the registry
    /// client an `eventsEndpoint`, so that instances leaving are seen at once.
    public convenience init(
        service: String, registry: RegistryClient, options: Options = .init(), context: Context? = nil,
        logger: Logger = Logger(label: "metro.rpc.client")
    ) throws(ZMQError) {
        try self.init(
            source: .registry(registry, service: service), service: service, options: options, context: context,
            logger: logger)
    }

    /// A client of fixed endpoints, without a registry (tests, `metro rpc`, benchmarks).
    /// Each endpoint is one instance, named by its endpoint.
    public convenience init(
        endpoints: [String], service: String = "rpc", options: Options = .init(), context: Context? = nil,
        logger: Logger = Logger(label: "metro.rpc.client")
    ) throws(ZMQError) {
        let targets = endpoints.compactMap {
            RpcInstanceKey(InstanceInfo(instance: $0, epoch: 0, endpoints: [$0], metadata: [:]))
        }
        try self.init(source: .fixed(targets), service: service, options: options, context: context, logger: logger)
    }

    private init(source: Source, service: String, options: Options, context: Context?, logger: Logger)
        throws(ZMQError)
    {
        self.source = source
        self.service = service
        self.options = options
        let ctx: Context
        if let context { ctx = context } else { ctx = try Context(ioThreads: 1, defaultLingerMilliseconds: 0) }
        io = IOThread(
            name: "metro-rpc-client", context: ctx, logger: logger,
            makeLoop: { setup in RpcClientLoop(setup: setup, options: options, logger: logger) },
            onEnd: { unhandled in
                for case .call(let call) in unhandled { call.complete(.failure(.closed(call.operation))) }
            })
    }

    /// Asks the I/O thread to stop; never waits. Prefer `close()`.
    deinit {
        io.requestStop()
        watcher.withLock { $0.task?.cancel() }
    }

    /// Runs the I/O thread until `close()`, graceful shutdown or cancellation
    /// (swift-service-lifecycle `Service`).
    public func run() async throws {
        await io.run()
        stopWatching()
    }

    /// Stops the I/O thread (calls out fail with `.closed`) and the membership task,
    /// and waits, without blocking a thread, until the sockets are closed. Safe twice.
    public func close() async {
        stopWatching()
        await io.shutdown()
    }

    /// Calls `method` with `request` (JSON on the wire) and decodes its response
    /// strictly. `deadline` defaults to `options.defaultDeadline`; a retry on another
    /// instance after a failure that may have run the handler happens only when
    /// `method.idempotent`. A response that does not decode is `.protocolViolation`.
    public func call<Request, Response>(
        _ method: RpcMethod<Request, Response>, _ request: Request, deadline: Duration? = nil,
        headers: RpcHeaders = .init()
    ) async throws(MetroClientError) -> Response {
        try await call(
            method.name, idempotent: method.idempotent, deadline: deadline, headers: headers,
            encode: { RpcRouter.encode(request) }, decode: { RpcRouter.decode(Response.self, from: $0) })
    }

    /// Calls a method whose answer is a head and raw bytes (protocol.md §6.9), as
    /// `call(_:_:deadline:headers:)` does; a body that is not of that form, or whose
    /// head does not decode, is `.protocolViolation`.
    public func call<Request, Head>(
        _ method: RpcBytesReplyMethod<Request, Head>, _ request: Request, deadline: Duration? = nil,
        headers: RpcHeaders = .init()
    ) async throws(MetroClientError) -> RpcBytes<Head> {
        try await call(
            method.name, idempotent: method.idempotent, deadline: deadline, headers: headers,
            encode: { RpcRouter.encode(request) }, decode: RpcBytes<Head>.decode)
    }

    /// Calls a method whose request is a head and raw bytes (protocol.md §6.9) and
    /// decodes its JSON answer strictly; a head that does not encode (or is over
    /// 4 KiB) is `.invalidArgument`, nothing sent.
    public func call<Head, Response>(
        _ method: RpcBytesRequestMethod<Head, Response>, _ request: RpcBytes<Head>, deadline: Duration? = nil,
        headers: RpcHeaders = .init()
    ) async throws(MetroClientError) -> Response {
        try await call(
            method.name, idempotent: method.idempotent, deadline: deadline, headers: headers,
            encode: { request.encode() }, decode: { RpcRouter.decode(Response.self, from: $0) })
    }

    private func call<Response>(
        _ name: String, idempotent: Bool, deadline: Duration?, headers: RpcHeaders,
        encode: () -> Result<[UInt8], WireError>, decode: ([UInt8]) -> Result<Response, WireError>
    ) async throws(MetroClientError) -> Response {
        let operation = "rpc \(name)"
        let body: [UInt8]
        switch encode() {
        case .success(let b): body = b
        case .failure(let e):
            throw MetroClientError(.invalidArgument, operation: operation, message: e.message)
        }
        let answer = try await call(
            method: name, body: body, idempotent: idempotent, deadline: deadline, headers: headers)
        switch decode(answer) {
        case .success(let response): return response
        case .failure(let e):
            throw MetroClientError(.protocolViolation, operation: operation, message: "the response: \(e.message)")
        }
    }

    /// Calls `method` with `body` (opaque bytes) and returns the response body.
    /// `idempotent` allows a retry on another instance after a failure that may have
    /// run the handler. `deadline` defaults to `options.defaultDeadline`.
    public func call(
        method: String, body: [UInt8], idempotent: Bool = false, deadline: Duration? = nil,
        headers: RpcHeaders = .init()
    ) async throws(MetroClientError) -> [UInt8] {
        let deadlineAt = ContinuousClock.now + (deadline ?? options.defaultDeadline)
        let operation = "rpc \(method)"
        let targets = try await resolve(operation)
        guard !targets.isEmpty else {
            throw MetroClientError(
                .noInstance, operation: operation, message: "no instance of '\(service)' is registered")
        }
        let headersFrame = headers == RpcHeaders() ? Self.noHeaders : headers.encode()
        let id = nextCallID.add(1, ordering: .relaxed).newValue
        let io = self.io
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Result<[UInt8], MetroClientError>, Never>) in
                if Task.isCancelled {
                    c.resume(returning: .failure(Self.cancelled(operation)))
                    return
                }
                let call = RpcCall(
                    id: id, method: method, idempotent: idempotent, deadline: deadlineAt, headers: headers,
                    headersFrame: headersFrame,
                    body: body, targets: targets, complete: { c.resume(returning: $0) })
                guard io.send(.call(call)) else {
                    c.resume(returning: .failure(.closed(operation)))
                    return
                }
                // A cancellation between the check above and the send queued its
                // `.cancel` before the call: send it again, after.
                if Task.isCancelled { io.send(.cancel(callID: id)) }
            }
        } onCancel: {
            io.send(.cancel(callID: id))
        }
        return try result.get()
    }

    /// The headers frame of a call without headers (no JSON encoder on the hot path).
    private static let noHeaders = Array("{}".utf8)

    static func cancelled(_ operation: String) -> MetroClientError {
        MetroClientError(
            .cancelled, operation: operation,
            message: "the caller's task was cancelled; the call may or may not have run")
    }

    /// The instances to call, from the registry (its cache) or the fixed list. When
    /// the registry cannot be reached, the last list it gave is used. While it
    /// warms up after a restart (its LOOKUP says `warming`, protocol.md §5.7), the
    /// instances it listed before and does not list yet are kept: they have not
    /// registered again, and were not said to leave. Without this, a registry
    /// killed and restarted made every caller fail `no-instance` until each worker's
    /// next heartbeat (the chaos soak, seed 23: 184 calls in two ~2-s windows).
    private func resolve(_ operation: String) async throws(MetroClientError) -> [RpcInstanceKey] {
        switch source {
        case .fixed(let targets):
            return targets
        case .registry(let registry, let service):
            watchMembershipIfNeeded(registry, service)
            do {
                let result = try await registry.lookupResult(service)
                var targets = result.instances.compactMap { RpcInstanceKey($0, service: service) }
                return lastKnown.withLock { known in
                    if result.warming == true {
                        let listed = Set(targets.map(\.instance))
                        targets += known.filter { !listed.contains($0.instance) }
                    }
                    known = targets
                    return targets
                }
            } catch {
                let known = lastKnown.withLock { $0 }
                guard known.isEmpty else { return known }
                throw MetroClientError(
                    .noInstance, operation: operation,
                    message: "the registry could not be asked for '\(service)' (\(error))")
            }
        }
    }

    /// Starts, once, the task that turns `service`'s membership events into commands.
    private func watchMembershipIfNeeded(_ registry: RegistryClient, _ service: String) {
        guard !watching.load(ordering: .relaxed) else { return }
        watcher.withLock { w in
            guard w.task == nil, !w.closed else { return }
            watching.store(true, ordering: .relaxed)
            let events = registry.membershipEvents()
            let io = self.io
            w.task = Task {
                for await e in events where e.service == service {
                    switch e.kind {
                    case .registered: io.send(.registered(instance: e.instance))
                    case .deregistered, .expired: io.send(.gone(instance: e.instance, epoch: e.epoch))
                    }
                }
            }
        }
    }

    private func stopWatching() {
        let task = watcher.withLock { w in
            w.closed = true
            return w.task
        }
        task?.cancel()
    }
}
