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

/// Reloads something (an allow-list, the gateway's credentials) on each SIGHUP,
/// without a restart, and logs what it did: `<what> reloaded` (notice) with what
/// `reload` returns, or `<what> not reloaded` (error) with why, when `reload`
/// throws (then what was in force stays: `reload` must change nothing when it
/// throws). A `Service` of the server's group.
///
/// SIGHUP is trapped when this is made, not when it runs: made before the
/// server's ready line, a SIGHUP sent once the server is ready (`metro up
/// --secure` forwards its own to every ready child) reloads instead of killing
/// it, which is SIGHUP's default action.
public struct HangupReloader: Service {
    let what: String
    let logger: Logger
    let reload: @Sendable () async throws -> Logger.Metadata
    let hangups: UnixSignalsSequence

    public init(_ what: String, logger: Logger, reload: @escaping @Sendable () async throws -> Logger.Metadata) async {
        self.what = what
        self.logger = logger
        self.reload = reload
        hangups = await UnixSignalsSequence(trapping: .sighup)
    }

    /// Reloads `authenticator`'s allow-list (`ZapAuthenticator.reload`).
    public static func allowList(_ authenticator: ZapAuthenticator, logger: Logger) async -> HangupReloader {
        await HangupReloader("allow-list", logger: logger) {
            let list = try authenticator.reload()
            return ["identities": "\(list.identities.count)", "path": "\(authenticator.path ?? "-")"]
        }
    }

    public func run() async throws {
        for await _ in hangups.cancelOnGracefulShutdown() {
            do {
                let metadata = try await reload()
                logger.notice("\(what) reloaded", metadata: metadata)
            } catch {
                logger.error("\(what) not reloaded, what was in force stays: \(error)")
            }
        }
    }
}
