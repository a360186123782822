import MetroProtocol
import MetroSecurity
import ZeroMQ

/// The broker's permission checks with CURVE on (protocol.md §7.8). Each socket's
/// drain asks it about the message it holds, by the connection's ZAP user id
/// (`User-Id`): publish on ingest and publish, subscribe on events, REPLAY and
/// JOIN on consume. With CURVE off the engine has none, and no check runs.
///
/// Besides the identity's own lists, two rules hold for everyone: `$metro.*`
/// comes only from the broker itself (§2.4 already refuses it from clients), and
/// `$registry.*` only from the registry's identity (`security.registryIdentity`),
/// whatever its publish list says.
///
/// Threading: owned by the broker's loop thread (its `AccessCache` is).
final class BrokerPermissions {
    let cache: AccessCache
    var control: AccessControl { cache.control }

    /// The allow-list generation that what runs (replays) was last checked against.
    private var checkedGeneration: UInt64

    /// Each identity's `subscribe` list as of the last check: a reload that narrows
    /// one has subscriptions in force to take back (`narrowedSubscribers`).
    private var subscribeLists: [String: [[UInt8]]]

    init(_ control: AccessControl) {
        cache = AccessCache(control)
        checkedGeneration = control.authenticator.generation
        subscribeLists = Self.subscribeLists(control.authenticator.allowList)
    }

    private static func subscribeLists(_ list: AllowList) -> [String: [[UInt8]]] {
        Dictionary(
            list.identities.map { ($0.name, $0.permissions.prefixes(.subscribe)) }, uniquingKeysWith: { a, _ in a })
    }

    /// After a reload: the identities (sorted) whose earlier `subscribe` list the
    /// list now in force no longer covers, removed identities included; remembers
    /// the new lists for the next reload.
    func narrowedSubscribers() -> [String] {
        let list = control.authenticator.allowList
        let narrowed = subscribeLists.filter { name, prefixes in
            let now = list.permissions(of: name)
            return !prefixes.allSatisfy { now.allows(.subscribe, $0) }
        }.keys.sorted()
        subscribeLists = Self.subscribeLists(list)
        return narrowed
    }

    /// Whether the allow-list was reloaded since the last call: then the caller
    /// checks again what it let run (an atomic load when not).
    func reloadedSinceLastCheck() -> Bool {
        let now = control.authenticator.generation
        guard now != checkedGeneration else { return false }
        checkedGeneration = now
        return true
    }

    /// The identity each member connection (routing id) joined as: a reload checks
    /// its memberships again. Pruned to the current members at each reload and
    /// when it outgrows `maxJoined`.
    private(set) var joinedAs: [[UInt8]: String] = [:]
    static let maxJoined = 4096

    /// Notes that `routingID` joined a group as `identity`; `current` gives the
    /// routing ids that are members now, for pruning.
    func joined(_ routingID: [UInt8], as identity: String, current: () -> Set<[UInt8]>) {
        if joinedAs.count >= Self.maxJoined { prune(keeping: current()) }
        joinedAs[routingID] = identity
    }

    func prune(keeping members: Set<[UInt8]>) {
        joinedAs = joinedAs.filter { members.contains($0.key) }
    }

    /// The ERROR 110 that ends a membership of `identity` in a group of
    /// `prefixes` when the list now in force no longer lets it consume them
    /// (counted and logged as a denial), or nil.
    func consumeWithdrawal(identity: String, prefixes: [[UInt8]]) -> WireError? {
        uncovered(prefixes, .consume, cache.grant(userID: identity))
    }

    /// The ERROR 110 that ends a running replay of `identity` over `prefixes`
    /// when the list now in force no longer lets it replay them (counted and
    /// logged as a denial), or nil.
    func replayWithdrawal(identity: String, prefixes: [[UInt8]]) -> WireError? {
        uncovered(prefixes, .replay, cache.grant(userID: identity))
    }

    /// The grant of the connection frame `index` of `buffer` came in on.
    @inline(__always)
    func grant(_ buffer: MultipartBuffer, frame index: Int) -> AccessCache.Grant {
        buffer.withMetadata("User-Id", frame: index) { cache.grant(userID: $0) }
    }

    /// Whether `grant` may publish `topic` (a topic already valid by §2.4).
    @inline(__always)
    static func mayPublish(_ grant: AccessCache.Grant, topic: UnsafeRawBufferPointer) -> Bool {
        if topic.count > 0, topic[0] == Topic.reservedPrefix {
            return grant.isRegistry && topic.starts(with: registryPrefix)
        }
        return grant.permissions.allows(.publish, topic)
    }

    private static let registryPrefix = Array(Topic.registryPrefix.utf8)

    /// Counts and logs a denied publish; returns the ERROR it gets where it has one.
    func deniedPublish(_ grant: AccessCache.Grant, topic: UnsafeRawBufferPointer) -> WireError {
        let text = String(decoding: topic, as: UTF8.self)
        control.denied(.publish, identity: grant.identity, text)
        return WireError(.forbidden, "identity '\(grant.identity)' may not publish '\(text)' (protocol.md §7.8)")
    }

    /// Whether the subscription to `prefix` is forwarded: the markers every
    /// subscriber needs (`$metro.heartbeat`, its own hello, §4.4.1-2) always, any
    /// other prefix when the subscribe list covers it. A denial is counted and logged.
    func allowsSubscription(_ grant: AccessCache.Grant, prefix: [UInt8], isHello: Bool) -> Bool {
        if isHello || prefix == Self.heartbeat || grant.permissions.allows(.subscribe, prefix) { return true }
        control.denied(.subscribe, identity: grant.identity, String(decoding: prefix, as: UTF8.self))
        return false
    }

    private static let heartbeat = Array(Topic.heartbeat.utf8)

    /// The refusal of a consume request the identity may not make, or nil: a REPLAY
    /// whose prefixes its replay list does not all cover (none means every topic),
    /// a JOIN whose group's prefixes (the existing group's, else the JOIN's) its
    /// consume list does not all cover, a DELETE of a group whose prefixes it does
    /// not all cover. Everything else is allowed.
    func refusal(
        _ request: Result<ConsumeCodec.Request, ConsumeCodec.RequestError>, _ buffer: MultipartBuffer,
        groups: GroupCoordinator
    ) -> ConsumeCodec.Reply? {
        switch request {
        case .success(.replay(let r)):
            let grant = grant(buffer, frame: 1)
            guard let denied = uncovered(r.prefixes, .replay, grant) else { return nil }
            return .replay(.error(denied, id: r.id, seq: nil))
        case .success(.group(.join(let group, _, _, let config))):
            let grant = grant(buffer, frame: 1)
            let prefixes = groups.prefixes(of: group) ?? (config.prefixes ?? []).map { Array($0.utf8) }
            guard let denied = uncovered(prefixes, .consume, grant) else { return nil }
            return .group(.error(denied, context: [Array(group.utf8)]))
        case .success(.group(.delete(let group))), .success(.group(.skipDamaged(let group, _))):
            // As a JOIN of the group: only who may consume all of it may delete it
            // or move it past a record.
            guard let prefixes = groups.prefixes(of: group) else { return nil }  // 202 from the coordinator
            let grant = grant(buffer, frame: 1)
            guard let denied = uncovered(prefixes, .consume, grant) else { return nil }
            return .group(.error(denied, context: [Array(group.utf8)]))
        default:
            return nil
        }
    }

    private func uncovered(
        _ prefixes: [[UInt8]], _ action: Permissions.Action, _ grant: AccessCache.Grant
    ) -> WireError? {
        let asked = prefixes.isEmpty ? [[]] : prefixes
        guard let first = asked.first(where: { !grant.permissions.allows(action, $0) }) else { return nil }
        let text = String(decoding: first, as: UTF8.self)
        control.denied(action, identity: grant.identity, text)
        return WireError(
            .forbidden, "identity '\(grant.identity)' may not \(action.rawValue) '\(text)' (protocol.md §7.8)")
    }
}
