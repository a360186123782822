import Foundation
public import Logging
import Metrics
import Synchronization
public import ZeroMQ

/// The ZAP rules of a Metro CURVE server (protocol.md §7.4), as the function a
/// `ZapHandler` calls for each handshake, in order:
/// 1. the request's domain is this server's (`metro.broker`, `metro.registry`);
/// 2. the mechanism is CURVE (a NULL or PLAIN handshake is refused);
/// 3. the credential is one 32-byte public key;
/// 4. the key is in the allow-list: the handshake succeeds and the connection's
///    user id is the identity's name. Any other key is refused.
/// Refusals are counted (`metro_auth_refused_total{reason}`, and `refusals`) and
/// logged with the peer's address and key, at most once a second with the count
/// of those not logged; acceptances are counted (`metro_auth_accepted_total`).
///
/// `reload()` swaps the allow-list for the file's current content (SIGHUP);
/// connections already made stay, new handshakes use the new list. A file that
/// does not load leaves the old list in force.
///
/// Threading: `decide` runs on the ZAP handler's thread, `reload` on whichever
/// calls it; the list sits behind a mutex, the counters are atomics.
public final class ZapAuthenticator: Sendable {
    /// Why a handshake was refused: the `reason` label of the refusal counter.
    public enum Refusal: String, Sendable, CaseIterable {
        case wrongDomain = "wrong_domain"
        case notCurve = "not_curve"
        case malformedCredential = "malformed_credential"
        case unknownKey = "unknown_key"
    }

    /// The ZAP domain this server's sockets set and its requests must name.
    public let domain: String
    /// The file `reload()` reads; nil for a list given in code (tests).
    public let path: String?
    private let list: Mutex<AllowList>
    private let logger: Logger
    private let refused = Atomic<UInt64>(0)
    private let accepted = Atomic<UInt64>(0)
    private let reloads = Atomic<UInt64>(0)
    private let refusedCounters: [Refusal: Counter]
    private let acceptedCounter: Counter
    private let logLimit = Mutex<(last: ContinuousClock.Instant?, suppressed: Int)>((nil, 0))

    /// An authenticator for `domain` with `allowList`, read from `path` if given.
    public init(domain: String, allowList: AllowList, path: String? = nil, logger: Logger) {
        self.domain = domain
        self.path = path
        list = Mutex(allowList)
        self.logger = logger
        refusedCounters = Dictionary(
            uniqueKeysWithValues: Refusal.allCases.map {
                ($0, Counter(label: "metro_auth_refused_total", dimensions: [("reason", $0.rawValue)]))
            })
        acceptedCounter = Counter(label: "metro_auth_accepted_total")
    }

    /// Loads the allow-list at `path` and makes an authenticator that reloads it.
    public convenience init(domain: String, allowListPath path: String, logger: Logger) throws(SecurityError) {
        self.init(domain: domain, allowList: try AllowList.load(path), path: path, logger: logger)
    }

    /// Handshakes refused since start.
    public var refusals: UInt64 { refused.load(ordering: .relaxed) }
    /// Handshakes accepted since start.
    public var acceptances: UInt64 { accepted.load(ordering: .relaxed) }
    /// How many times `reload()` put a list in force: a loop that caches what the
    /// list says (`AccessCache`) reads it per message to notice a SIGHUP.
    public var generation: UInt64 { reloads.load(ordering: .acquiring) }
    /// The list in force now.
    public var allowList: AllowList { list.withLock { $0 } }

    /// The answer to one ZAP request (the rules in the type's comment).
    public func decide(_ request: ZapRequest) -> ZapDecision {
        guard request.domain == domain else { return refuse(.wrongDomain, request, key: nil) }
        guard request.mechanism == "CURVE" else { return refuse(.notCurve, request, key: nil) }
        guard let key = request.curvePublicKey else { return refuse(.malformedCredential, request, key: nil) }
        guard let name = list.withLock({ $0.identity(forPublicKey: key) }) else {
            return refuse(.unknownKey, request, key: key)
        }
        accepted.add(1, ordering: .relaxed)
        acceptedCounter.increment()
        logger.debug("ZAP: accepted", metadata: ["identity": "\(name)", "address": "\(request.address)"])
        return .allow(userID: name)
    }

    /// Reads the allow-list file again and puts it in force; throws (and keeps the
    /// old list) when the file does not load. Returns the new list.
    @discardableResult
    public func reload() throws(SecurityError) -> AllowList {
        guard let path else { return allowList }
        let fresh = try AllowList.load(path)
        list.withLock { $0 = fresh }
        reloads.add(1, ordering: .releasing)
        return fresh
    }

    private func refuse(_ reason: Refusal, _ request: ZapRequest, key: String?) -> ZapDecision {
        refused.add(1, ordering: .relaxed)
        refusedCounters[reason]?.increment()
        let now = ContinuousClock.now
        let suppressed: Int? = logLimit.withLock { state in
            if let last = state.last, now - last < .seconds(1) {
                state.suppressed += 1
                return nil
            }
            defer { state = (now, 0) }
            return state.suppressed
        }
        if let suppressed {
            logger.warning(
                "ZAP: handshake refused",
                metadata: [
                    "reason": "\(reason.rawValue)", "address": "\(request.address)",
                    "mechanism": "\(request.mechanism)",
                    "publicKey": "\(key ?? "-")", "domain": "\(request.domain)", "notLogged": "\(suppressed)",
                ])
        }
        return .deny(reason: reason.rawValue)
    }
}
