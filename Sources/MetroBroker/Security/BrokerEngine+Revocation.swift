import Logging
import MetroProtocol
import ZeroMQ

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
/// Live subscriptions in force cannot be taken back one by one: libzmq's XPUB
/// applies an unsubscription only to the connection it came from. So a reload
/// that narrows any identity's `subscribe` list binds the events socket again:
/// unbinding closes every subscriber's connection, each reconnects and sends its
/// subscriptions again, and they are checked against the new list (a refused one
/// gets its denial notice, §4.4.5). Every subscriber pays a reconnect (~0.1–0.2 s,
/// events meanwhile are a gap its seqs show); a reload that narrows no subscribe
/// list leaves the socket alone.
extension BrokerEngine {
    func withdrawRevokedGrants() {
        if let endpoint = eventsRebindPending { bindEventsAgain(endpoint) }
        guard let permissions, permissions.reloadedSinceLastCheck() else { return }
        let narrowed = permissions.narrowedSubscribers()
        if !narrowed.isEmpty, let endpoint = boundEndpoints["events"] {
            logger.notice(
                "a reload narrowed subscribe permissions: the events socket is bound again, so every subscriber reconnects and its subscriptions are checked again",
                metadata: ["identities": "\(narrowed.joined(separator: ","))", "endpoint": "\(endpoint)"])
            do {
                try fanOut.events.unbind(endpoint)
                bindEventsAgain(endpoint)
            } catch {
                logger.error("the events socket could not be unbound; subscriptions stay as they were: \(error)")
            }
        }
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

extension BrokerEngine {
    /// Binds the events socket to `endpoint` again after the unbind of a reload; on
    /// failure (another process took the port in between) it is tried again on each
    /// turn of the loop, loudly, since no subscriber can reconnect meanwhile.
    func bindEventsAgain(_ endpoint: String) {
        do {
            try fanOut.events.bind(endpoint)
            if eventsRebindPending != nil { logger.notice("the events socket is bound again at \(endpoint)") }
            eventsRebindPending = nil
        } catch {
            if eventsRebindPending == nil {
                logger.critical("the events socket cannot be bound again at \(endpoint), retrying each turn: \(error)")
            }
            eventsRebindPending = endpoint
        }
    }
}
