import Logging
import ZeroMQ

/// The ZAP handler in front of a secure instance's rpc socket (protocol.md §7.10).
///
/// libzmq puts every CURVE handshake of a context's server sockets to the ZAP
/// handler bound in that same context, so the gate owns the context the
/// `RpcServer` is then made in, binds the handler there before the server binds,
/// and runs it on a thread of its own (the decision is an in-memory allow-list
/// check). `stop()` ends that thread once the server is closed.
struct RpcCallerGate: Sendable {
    let context: Context
    private let handler: ZapHandler
    private let thread: DedicatedThread

    /// nil when `security` is nil: a plain rpc socket on a context of its own.
    init?(_ security: ServiceRuntime.Security?, logger: Logger) throws {
        guard let security else { return nil }
        context = try Context(ioThreads: 1, defaultLingerMilliseconds: 200)
        let handler = try ZapHandler(context: context, decide: security.authorizeCaller)
        self.handler = handler
        thread = DedicatedThread(name: "metro-rpc-zap") {
            if let error = handler.run() {
                logger.critical("rpc ZAP handler ended: no caller can connect: \(error)")
            }
        }
        thread.start()
    }

    /// Stops the handler's thread (after the rpc server closed); does not wait for it.
    func stop() { handler.stop() }
}
