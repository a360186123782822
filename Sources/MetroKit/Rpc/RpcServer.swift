public import Logging
public import MetroProtocol
public import ServiceLifecycle
import Synchronization
public import ZeroMQ

/// Serves rpc calls (protocol.md §6) on a ROUTER socket: a service instance's
/// endpoint that `RpcClient`s (DEALER) call.
///
/// Threading: the ROUTER lives on the server's `IOThread` (its rule applies). The
/// I/O thread decodes every message and answers the cheap cases itself at once —
/// every frame-level fault (§6.3), 401 for a deadline of 0, 402 when
/// `maxConcurrent` handlers are running, 109 while draining — so a flood of bad or
/// excess calls never waits behind handlers. Each accepted call runs its handler
/// on a task of its own (the global executor, `Options.executor`, or with
/// `Options.handlersOnIOThread` the I/O thread itself, between turns); a handler
/// whose task starts at or after the call's deadline is not run (401). The task's
/// answer goes back through the thread's command queue, never to the socket
/// directly. Nothing here blocks Swift's cooperative pool.
///
/// Life: `init` binds nothing. `start()` starts the thread, binds, and returns the
/// bound endpoint (the ephemeral port resolved); `run()` does the same as a
/// swift-service-lifecycle `Service` and on graceful shutdown drains, then closes.
/// `drain()` stops taking new work (new calls get 109) and waits for the running
/// handlers up to `drainTimeout`; `close()` drains, then closes the socket. A handler
/// still running then is abandoned: its answer is dropped.
///
///     var router = RpcRouter()
///     router.register(getProfile) { request, context in try await profiles.get(request.id) }
///     let server = RpcServer(.init(), router: router)
///     let endpoint = try await server.start()   // "tcp://127.0.0.1:41234"
///     ...
///     await server.close()
public final class RpcServer: Service, Sendable {
    public struct Options: Sendable {
        /// Where to bind the ROUTER; `*` as the port picks a free one.
        public var bind: String
        /// Handlers running at once at most; calls above it are answered 402 at once.
        public var maxConcurrent: Int
        /// The largest body accepted (105 above it).
        public var maxBodyBytes: Int
        /// How long `drain()` and graceful shutdown wait for running handlers.
        public var drainTimeout: Duration
        /// Where handler tasks run (`Task(executorPreference:)`); nil: the global executor.
        public var executor: (any TaskExecutor)?
        /// Run handlers on the server's I/O thread instead (`executor` must be nil): a
        /// call then starts and answers without a thread hop, which makes a trivial
        /// handler's round trip much cheaper (docs/performance.md, "rpc: where the
        /// round trip goes"). Only for handlers that never block and finish quickly (an
        /// echo, a read from memory): while one runs, the server reads no message and
        /// sends no answer. A handler that suspends resumes on the I/O thread as well.
        public var handlersOnIOThread = false
        /// The methods whose handlers run on the server's I/O thread, as with
        /// `handlersOnIOThread` but for these alone; the others run where `executor`
        /// says. For the short handlers of a service that answer from a read (a point
        /// lookup, a bounded page): MetroRuntime's `RpcPlacement.inline`.
        public var ioThreadMethods: Set<String> = []
        /// Makes the ROUTER a CURVE server with this key pair (protocol.md §7.10);
        /// nil (the default) speaks plain ZMTP. Clients are authenticated by the ZAP
        /// handler bound in the server's context (`zapDomain` names its domain);
        /// whoever makes the context binds one before `start()`, or any client that
        /// knows the public key gets in.
        public var curve: Curve?
        /// With `curve`: asked about each call with the caller's ZAP identity (the
        /// message's `User-Id`, nil without one) and the method; an error it returns
        /// is the answer (protocol.md §7.8: 110 for a method the identity may not
        /// call) and the handler does not run. nil: every admitted caller may call
        /// every method.
        public var authorizeMethod: (@Sendable (_ identity: String?, _ method: String) -> WireError?)?
        /// This server's incarnation as the registry names it (`RpcHeaders.target(service:
        /// instance:epoch:)`). A call whose `target` header names another is answered 408
        /// wrong-instance and not run: its caller reached, through a dead instance's
        /// registration, a port this process now holds (protocol.md §6.3). nil: the
        /// header is not checked (a server no registry lists).
        public var incarnation: String?

        /// A CURVE server's key pair and the ZAP domain its handshakes are put to.
        public struct Curve: Sendable {
            public var keys: CurveKeyPair
            public var zapDomain: String
            public init(keys: CurveKeyPair, zapDomain: String) {
                self.keys = keys
                self.zapDomain = zapDomain
            }
        }

        public init(
            bind: String = "tcp://127.0.0.1:*", maxConcurrent: Int = 64,
            maxBodyBytes: Int = RpcLimits.defaultMaxBodyBytes, drainTimeout: Duration = .seconds(10),
            executor: (any TaskExecutor)? = nil
        ) {
            precondition(maxConcurrent > 0 && maxBodyBytes >= 0, "maxConcurrent > 0, maxBodyBytes >= 0")
            self.bind = bind
            self.maxConcurrent = maxConcurrent
            self.maxBodyBytes = maxBodyBytes
            self.drainTimeout = drainTimeout
            self.executor = executor
        }
    }

    /// The registration metadata key under which a secure instance announces its
    /// rpc socket's CURVE public key (protocol.md §7.10); `RpcClient.Options.curveKeys`
    /// reads it there.
    public static let curvePublicKeyMetadata = "curve-public-key"

    public let options: Options
    let io: IOThread<RpcServerLoop>
    private let published: Mailbox<RpcServerStats>
    /// The bound endpoint, or why binding failed (for `start()`'s error).
    private let binding: Mailbox<Binding>

    struct Binding: Sendable {
        var endpoint: String?
        var error: String?
    }

    /// Prepares the server around a raw handler; nothing is bound until `start()` or `run()`.
    /// `context` defaults to one of its own, released on the I/O thread at the end.
    public init(
        _ options: Options, handler: @escaping RpcHandler, context: Context? = nil,
        logger: Logger = Logger(label: "metro.rpc-server")
    ) throws {
        self.options = options
        let published = Mailbox(RpcServerStats())
        let binding = Mailbox(Binding())
        let sink = RpcReplySink()
        let ctx = try context ?? Context(ioThreads: 1, defaultLingerMilliseconds: 200)
        precondition(
            !(options.handlersOnIOThread && options.executor != nil),
            "handlersOnIOThread and executor exclude each other")
        let onThread =
            options.handlersOnIOThread || !options.ioThreadMethods.isEmpty
            ? IOThreadExecutor(post: { sink.send(.run($0)) }) : nil
        io = IOThread(
            name: "metro-rpc-server", context: ctx, logger: logger,
            makeLoop: { setup in
                do {
                    let loop = try RpcServerLoop(
                        options: options, handler: handler, sink: sink, published: published,
                        ioExecutor: onThread, setup: setup, logger: logger)
                    binding.withLock { $0.endpoint = loop.endpoint }
                    return loop
                } catch {
                    binding.withLock { $0.error = "could not bind \(options.bind): \(error)" }
                    throw error
                }
            },
            onEnd: { unhandled in
                let message = binding.withLock { $0.error } ?? "the server is closed"
                for command in unhandled {
                    switch command {
                    case .bound(let c):
                        c.resume(throwing: MetroClientError(.closed, operation: "rpc serve", message: message))
                    case .drain(_, _, let waiter?): waiter.resume()
                    case .drain, .reply: break
                    // A handler's task that never got its turn: it ends elsewhere, its answer dropped.
                    case .run(let job): globalConcurrentExecutor.enqueue(ExecutorJob(job))
                    }
                }
            })
        sink.attach(io)
        self.published = published
        self.binding = binding
    }

    /// Prepares the server around typed methods (`RpcRouter`).
    public convenience init(
        _ options: Options, router: RpcRouter, context: Context? = nil,
        logger: Logger = Logger(label: "metro.rpc-server")
    ) throws {
        try self.init(options, handler: router.handler, context: context, logger: logger)
    }

    /// Asks the I/O thread to stop; never waits. Prefer `close()`.
    deinit { io.requestStop() }

    /// Starts the I/O thread and binds; returns the endpoint actually bound. Throws
    /// `MetroClientError` (`.closed`, with the bind error as message) if it cannot.
    @discardableResult
    public func start() async throws -> String {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<String, any Error>) in
            if !io.send(.bound(c)) {
                c.resume(throwing: MetroClientError.closed("rpc serve"))
            }
        }
    }

    /// The bound endpoint, once `start()` or `run()` bound it; nil before.
    public var endpoint: String? { binding.withLock { $0.endpoint } }

    /// What the server has done so far, published by the I/O thread after each turn
    /// and before each answer goes out: a caller that got an answer finds it counted.
    public var stats: RpcServerStats { published.withLock { $0 } }

    /// Binds (if `start()` did not) and serves until graceful shutdown, which drains
    /// and then closes, or cancellation, which closes at once.
    public func run() async throws {
        try await start()
        let io = self.io, timeout = options.drainTimeout
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await io.join()
            } onGracefulShutdown: {
                io.send(.drain(timeout: timeout, stop: true, waiter: nil))
            }
        } onCancel: {
            io.requestStop()
        }
    }

    /// Stops taking new calls (they get 109) and waits until no handler runs, at most
    /// `timeout` (default `drainTimeout`). The server stays bound; `close()` ends it.
    public func drain(timeout: Duration? = nil) async {
        guard io.isStarted else { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            if !io.send(.drain(timeout: timeout ?? options.drainTimeout, stop: false, waiter: c)) { c.resume() }
        }
    }

    /// Drains (up to `drainTimeout`), then closes the socket and ends the thread.
    /// Safe to call more than once, from any task.
    public func close() async {
        if io.isStarted {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                if !io.send(.drain(timeout: options.drainTimeout, stop: true, waiter: c)) { c.resume() }
            }
        }
        await io.shutdown()
    }
}
