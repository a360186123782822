import Foundation
package import Logging
import MetroProtocol
import MetroSecurity
package import ServiceLifecycle
import Synchronization
package import ZeroMQ

/// A registry server: binds its ROUTER socket at `init` (so `endpoint` is known before
/// anyone connects), then serves on a dedicated thread while `run()` is awaited.
///
/// Threading: `init` creates the sockets on the calling thread; `run()` moves them, once
/// and as a whole, to a new thread (the loop thread) that alone uses and closes them.
/// `run()` never blocks the cooperative pool: it awaits the thread's end. Graceful
/// shutdown (or `stop()`, from any thread) shuts the server's own context down, which
/// ends the loop. State is in memory only (protocol.md §5.1).
package final class RegistryServer: Service, Sendable {
    package let endpoint: String
    private let context: Context
    /// Taken, once, by `run()` to hand to the loop thread.
    private let loop: Mutex<UnsafeTransfer<RegistryLoop>?>
    private let logger: Logger
    /// With CURVE on: the context's ZAP handler, run beside the loop by `run()`.
    private let zap: ZapHandler?

    /// Binds the registry. `publisher` replaces the PUB socket that `brokerEndpoint`
    /// would make (it then belongs to the loop thread); `clock` drives the leases.
    package init(
        configuration: Configuration, logger: Logger, publisher: (any MembershipPublisher)? = nil,
        clock: @escaping @Sendable () -> RegistryState.Instant = RegistryServer.monotonicNanoseconds
    ) throws(ZMQError) {
        let context = try Context(ioThreads: 1, defaultLingerMilliseconds: 0)
        self.context = context
        // Before the router binds: no handshake may complete without the handler.
        zap = try configuration.security.map { server throws(ZMQError) in try server.bindHandler(in: context) }
        let router = try context.socket(.router)
        try configuration.security?.secure(router)
        try router.set(.routerMandatory(true))
        try router.set(.maxMessageSize(configuration.maxMessageBytes))
        try router.set(.sendHighWaterMark(10_000))
        try router.set(.receiveHighWaterMark(10_000))
        endpoint = try router.bindResolved(configuration.endpoint)
        let chosen: any MembershipPublisher
        if let publisher {
            chosen = publisher
        } else if let broker = configuration.brokerEndpoint {
            chosen = try ZeroMQMembershipPublisher(
                context: context, endpoint: broker, curve: configuration.brokerCurve, logger: logger)
        } else {
            chosen = DiscardingMembershipPublisher()
        }
        loop = Mutex(
            UnsafeTransfer(
                RegistryLoop(
                    router: router, publisher: chosen, configuration: configuration, logger: logger, clock: clock)))
        self.logger = logger
    }

    /// Serves until graceful shutdown or `stop()`. Call once.
    package func run() async {
        guard let transfer = loop.withLock({ $0.take() }) else {
            preconditionFailure("RegistryServer.run() called twice")
        }
        // The context's shutdown ends the ZAP handler too (its poll fails with ETERM).
        let zapThread = zap.map { [logger] zap in
            DedicatedThread(name: "metro-zap") {
                if let error = zap.run() { logger.critical("ZAP handler ended: no client can connect: \(error)") }
            }
        }
        zapThread?.start()
        await withTaskCancellationOrGracefulShutdownHandler {
            await DedicatedThread.run(name: "metro-registry") { transfer.value.run() }
        } onCancelOrGracefulShutdown: { [context] in
            context.shutdown()
        }
        zap?.stop()
        await zapThread?.join()
        logger.info("registry stopped")
    }

    /// Ends the loop; safe from any thread.
    package func stop() { context.shutdown() }

    /// Nanoseconds on the monotonic clock, the default clock of leases.
    @Sendable package static func monotonicNanoseconds() -> RegistryState.Instant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// Moves a non-Sendable value to another thread exactly once (see `ZeroMQ.Context`).
struct UnsafeTransfer<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
