public import Logging
import Metrics
import Synchronization

/// The permission side of a secure server (protocol.md §7.8): what each identity
/// may do, from the allow-list its `ZapAuthenticator` holds now, and the record
/// of every denial: `metro_auth_denied_total{action,identity}`, and a warning
/// naming the identity and what it asked for, at most once a second with the
/// number not logged since (like the ZAP refusal log).
///
/// Threading: `denied` may be called from any thread (the counters sit behind a
/// mutex, the total is an atomic); the loops read permissions through an
/// `AccessCache` of their own.
public final class AccessControl: Sendable {
    public let authenticator: ZapAuthenticator
    /// The identity whose connections alone may publish `$registry.*` on the broker
    /// (`security.registryIdentity`); nil on a server that takes no events.
    public let registryIdentity: String?
    private let logger: Logger
    private let counters = Mutex<[String: Counter]>([:])
    private let total = Atomic<UInt64>(0)
    private let logLimit = Mutex<(last: ContinuousClock.Instant?, suppressed: Int)>((nil, 0))

    public init(authenticator: ZapAuthenticator, registryIdentity: String? = nil, logger: Logger) {
        self.authenticator = authenticator
        self.registryIdentity = registryIdentity
        self.logger = logger
    }

    /// Denials since start.
    public var denials: UInt64 { total.load(ordering: .relaxed) }

    /// What the identity `name` may do under the list in force now.
    public func permissions(of name: String) -> Permissions { authenticator.allowList.permissions(of: name) }

    /// Counts and logs one denied request of `identity`: `what` says what it asked
    /// for (a topic, a prefix, a service name), for the log only.
    public func denied(_ action: Permissions.Action, identity: String, _ what: @autoclosure () -> String) {
        total.add(1, ordering: .relaxed)
        let key = action.rawValue + "\u{0}" + identity
        let counter = counters.withLock { table in
            if let c = table[key] { return c }
            let c = Counter(
                label: "metro_auth_denied_total", dimensions: [("action", action.rawValue), ("identity", identity)])
            table[key] = c
            return c
        }
        counter.increment()
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
                "permission denied",
                metadata: [
                    "identity": "\(identity)", "action": "\(action.rawValue)", "asked": "\(what())",
                    "notLogged": "\(suppressed)",
                ])
        }
    }
}

/// One loop's view of the permissions (protocol.md §7.8: checked per message,
/// against the list in force): the `Grant` of a connection's user id, built once
/// per identity and kept until a reload. A message costs an atomic load (the
/// authenticator's `generation`) and a byte comparison with the last user id
/// seen; a different identity costs a dictionary lookup. Never the YAML.
///
/// Threading: owned by one loop thread (not `Sendable`).
public final class AccessCache {
    /// What one identity may do, resolved.
    public final class Grant {
        public let identity: String
        public let permissions: Permissions
        /// Whether it is `AccessControl.registryIdentity`.
        public let isRegistry: Bool

        init(identity: String, permissions: Permissions, isRegistry: Bool) {
            self.identity = identity
            self.permissions = permissions
            self.isRegistry = isRegistry
        }
    }

    public let control: AccessControl
    private var generation: UInt64 = .max
    private var grants: [String: Grant] = [:]
    private var lastUserID: [UInt8] = []
    private var last: Grant
    /// A connection without a user id: never on a CURVE server, whose ZAP handler
    /// names every identity it admits; it may do nothing.
    private let anonymous = Grant(identity: "-", permissions: .nothing, isRegistry: false)

    public init(_ control: AccessControl) {
        self.control = control
        last = anonymous
    }

    /// The grant of the connection whose `User-Id` property is `userID` (nil or
    /// empty: none). The bytes are only read during the call.
    public func grant(userID: UnsafeRawBufferPointer?) -> Grant {
        let now = control.authenticator.generation
        if now != generation {
            generation = now
            grants.removeAll(keepingCapacity: true)
            lastUserID = []
            last = anonymous
        }
        guard let userID, userID.count > 0 else { return anonymous }
        if userID.count == lastUserID.count, lastUserID.elementsEqual(userID) { return last }
        let name = String(decoding: userID, as: UTF8.self)
        let grant: Grant
        if let known = grants[name] {
            grant = known
        } else {
            grant = Grant(
                identity: name, permissions: control.permissions(of: name),
                isRegistry: control.registryIdentity == name)
            // Bounded: user ids are the names the ZAP handler gave, all from the list.
            grants[name] = grant
        }
        lastUserID = Array(userID)
        last = grant
        return grant
    }

    /// `grant(userID:)` for a user id as text (the registry's requests).
    public func grant(userID: String?) -> Grant {
        guard var text = userID else { return grant(userID: UnsafeRawBufferPointer?.none) }
        return text.withUTF8 { grant(userID: UnsafeRawBufferPointer($0)) }
    }
}
