import Logging
import MetroSecurity
import ZeroMQ

/// Builds the CURVE set-up of a server command (`metro broker`, `metro registry`)
/// from its key and allow-list files, refusing at start what would not work:
/// a libzmq without CURVE, a secret key others can read, an allow-list that
/// does not load (protocol.md §7).
enum CurveSecurity {
    struct Unavailable: Error, CustomStringConvertible {
        var description: String {
            "CURVE is on but this libzmq was built without it (`metro doctor` checks); "
                + "install a libzmq with libsodium, or turn security.curve off"
        }
    }

    /// nil when `secretKeyFile` is nil (CURVE off).
    static func server(
        secretKeyFile: String?, allowList: String, domain: String, logger: Logger
    ) throws -> CurveServer? {
        guard let secretKeyFile else { return nil }
        guard Capability.curve.isAvailable else { throw Unavailable() }
        guard !allowList.isEmpty else {
            throw SecurityError(.unreadable, path: "--allow-list", reason: "CURVE is on: an allow-list is required")
        }
        let keys = try KeyFiles.loadSecret(secretKeyFile)
        let authenticator = try ZapAuthenticator(domain: domain, allowListPath: allowList, logger: logger)
        logger.info(
            "CURVE on",
            metadata: [
                "publicKey": "\(keys.publicKey)", "allowList": "\(allowList)",
                "identities": "\(authenticator.allowList.identities.count)", "zapDomain": "\(domain)",
            ])
        return CurveServer(keys: keys, authenticator: authenticator)
    }
}
