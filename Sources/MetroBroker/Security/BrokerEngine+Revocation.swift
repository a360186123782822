import Logging
import MetroProtocol

/// What an allow-list reload (SIGHUP) takes back from what already runs
/// (protocol.md §7.7): every request is checked against the list in force when it
/// comes, but a replay streams for as long as its client gives credit, so a
/// reload that withdraws an identity's `replay` permission for a replay's
/// prefixes (or removes the identity) ends that replay with ERROR 110, counted and
/// logged as a denial. The loop notices the reload on its next turn (at the
/// latest one heartbeat interval later, when it wakes for the heartbeat).
///
/// Not taken back: a live subscription in force (libzmq's XPUB applies an
/// unsubscription only to the connection it came from, so the broker cannot
/// drop another connection's subscription) and a group membership (its member
/// holds events in flight; the member's next JOIN is refused).
extension BrokerEngine {
    func withdrawRevokedGrants() {
        guard let permissions, permissions.reloadedSinceLastCheck() else { return }
        let ended = replays.withdraw { session in
            guard let identity = session.identity else { return nil }
            return permissions.replayWithdrawal(identity: identity, prefixes: session.request.prefixes)
        }
        if ended > 0 {
            logger.notice("replays ended: a reload withdrew their permission", metadata: ["replays": "\(ended)"])
        }
    }
}
