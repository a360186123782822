public import Logging
public import ServiceLifecycle
import UnixSignals
public import ZeroMQ

/// What a Metro CURVE server (the broker, the registry) runs with: its own key
/// pair and the authenticator of its clients. `nil` where a server takes one
/// means CURVE off: plain ZMTP, no ZAP handler, everything as before.
public struct CurveServer: Sendable {
    /// The server's long-term key pair (its `.key` file); clients need its public key.
    public let keys: CurveKeyPair
    public let authenticator: ZapAuthenticator

    public init(keys: CurveKeyPair, authenticator: ZapAuthenticator) {
        self.keys = keys
        self.authenticator = authenticator
    }

    /// Binds the ZAP handler in `context`. Call before any socket of the context
    /// binds (see `ZapHandler`); run `ZapHandler.run()` on a `DedicatedThread`.
    public func bindHandler(in context: Context) throws(ZMQError) -> ZapHandler {
        let authenticator = self.authenticator
        return try ZapHandler(context: context) { authenticator.decide($0) }
    }

    /// Makes `socket` a CURVE server under this server's ZAP domain (before `bind`).
    public func secure(_ socket: Socket) throws(ZMQError) {
        try socket.makeCurveServer(keys, zapDomain: authenticator.domain)
    }
}

/// Reloads an authenticator's allow-list on each SIGHUP, without a restart, and
/// logs what it did: the number of identities now in force, or why the file was
/// refused (then the previous list stays). A `Service` of the server's group.
///
/// SIGHUP is trapped when this is made, not when it runs: made before the
/// server's ready line, a SIGHUP sent once the server is ready (`metro up
/// --secure` forwards its own to every ready child) reloads instead of killing
/// it, which is SIGHUP's default action.
public struct AllowListReloader: Service {
    let authenticator: ZapAuthenticator
    let logger: Logger
    let hangups: UnixSignalsSequence

    public init(authenticator: ZapAuthenticator, logger: Logger) async {
        self.authenticator = authenticator
        self.logger = logger
        hangups = await UnixSignalsSequence(trapping: .sighup)
    }

    public func run() async throws {
        for await _ in hangups.cancelOnGracefulShutdown() {
            do {
                let list = try authenticator.reload()
                logger.notice(
                    "allow-list reloaded",
                    metadata: ["identities": "\(list.identities.count)", "path": "\(authenticator.path ?? "-")"])
            } catch {
                logger.error("allow-list not reloaded, the previous one stays in force: \(error)")
            }
        }
    }
}
