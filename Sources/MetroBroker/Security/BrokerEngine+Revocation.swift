import Logging
import MetroProtocol

/// What an allow-list reload (SIGHUP) takes back from what already runs
/// (protocol.md §7.7): every request is checked against the list in force when it
/// comes, but a replay streams for as long as its client gives credit, so a
/// reload that withdraws an identity's `replay` permission for a replay's
/// prefixes (or removes the identity) ends that replay with ERROR 110, counted and
/// logged as a denial. So does a group membership whose identity may no longer
/// consume the group's prefixes: the member gets ERROR 110 with the group, and
/// what it held is redelivered to the other members at once, as when its
/// connection closes. The loop notices the reload on its next turn (at the
/// latest one heartbeat interval later, when it wakes for the heartbeat).
///
/// Not taken back: a live subscription in force. libzmq's XPUB applies an
/// unsubscription only to the connection it came from, so the broker cannot
/// drop another connection's subscription.
extension BrokerEngine {
    func withdrawRevokedGrants() {
        guard let permissions, permissions.reloadedSinceLastCheck() else { return }
        let ended = replays.withdraw { session in
            guard let identity = session.identity else { return nil }
            return permissions.replayWithdrawal(identity: identity, prefixes: session.request.prefixes)
        }
        let memberships = groups.memberships
        permissions.prune(keeping: Set(memberships.map(\.member)))
        var expelled = 0
        let now = clock()
        for m in memberships {
            guard let identity = permissions.joinedAs[m.member],
                let denied = permissions.consumeWithdrawal(identity: identity, prefixes: m.prefixes)
            else { continue }
            groups.expel(m.member, from: m.group, denied, now: now)
            expelled += 1
        }
        if ended > 0 || expelled > 0 {
            logger.notice(
                "a reload withdrew permissions in use: replays ended, group members expelled",
                metadata: ["replays": "\(ended)", "members": "\(expelled)"])
        }
    }
}
