import MetroProtocol
import MetroSecurity
import ZeroMQ

/// The consume socket's dispatcher: STATS and METRICS (protocol.md §4.5), replay
/// (§4.9, `ReplayScheduler`) and consumer groups (§4.10, `GroupCoordinator`). It
/// decodes each request, hands it to its component, and sends the typed reply the
/// component returns. Loop thread only.
extension BrokerEngine {
    func drainConsume() throws {
        // REPLAY, JOIN and STATS read the journal's written end: no held writes.
        try endBatch(force: true)
        let buffer = consumeBuffer
        var n = 0
        while n < batchLimit, try buffer.receive(from: consume) {
            n += 1
            let routingID = buffer.bytes(0)
            // More frames than the buffer holds: the codec answers 101 with the context.
            let request = ConsumeCodec.decodeRequest(buffer, offset: 1, discardedFrames: buffer.discardedFrames)
            // The routing-id frame that ROUTER makes up carries no descriptor in
            // libzmq 4.3.4 (measured); the frames the peer sent do.
            if buffer.count > 1, let fd = buffer.sourceDescriptor(1) {
                try classify(request, fd: fd, routingID: routingID)
            }
            // With CURVE on, a REPLAY or JOIN the identity may not make is refused (§7.8).
            let refused = permissions?.refusal(request, buffer, groups: groups)
            guard let reply = refused ?? answer(request, from: routingID) else { continue }
            if reply.isError { counters.rejected &+= 1 }
            if consumeSender.send(reply, to: routingID) != .queued { counters.drop(.replyUnroutable) }
        }
    }

    /// Notes whether the connection on `fd` is only an operator's STATS or METRICS
    /// call (`AdminPeers`), whose close is then not a disconnection, and which
    /// connection a JOIN came on (`MemberConnections`), whose close loses the
    /// member. The monitors are read first when the descriptor may be a reused
    /// one whose earlier connection's close is still unread (for a JOIN, always).
    private func classify(
        _ request: Result<ConsumeCodec.Request, ConsumeCodec.RequestError>, fd: Int32, routingID: [UInt8]
    ) throws {
        let admin: Bool
        var join = false
        switch request {
        case .success(.stats), .success(.metrics): admin = true
        case .success(.group(.join)):
            admin = false
            join = true
        default: admin = false
        }
        // A JOIN always: the close of whatever connection had this descriptor before
        // must be read before the new member is recorded on it (`MemberConnections`).
        if admin || join || adminPeers.isAdminOnly(fd) { try readMonitors() }
        adminPeers.request(on: fd, admin: admin)
        if join { memberConnections.record(fd: fd, routingID: routingID) }
    }

    /// Loses the members whose connections closed (`readMonitors` queued them):
    /// their held events are redelivered now, not 3 heartbeat intervals later
    /// (§4.10). What a closed connection sent before it closed is still queued on
    /// the socket (libzmq delivers a closed pipe's messages before ending it), so
    /// it is handled first: an ACK among it ends its event instead of letting it
    /// be delivered again.
    func loseClosedMembers() throws {
        guard !closedMembers.isEmpty else { return }
        try drainConsume()
        let lost = closedMembers
        closedMembers.removeAll()
        let now = clock()
        for member in lost { groups.connectionLost(member, now: now) }
    }

    /// What the request asks for, carried out; its reply, if it has one.
    private func answer(
        _ request: Result<ConsumeCodec.Request, ConsumeCodec.RequestError>, from routingID: [UInt8]
    ) -> ConsumeCodec.Reply? {
        switch request {
        case .failure(let e):
            return .refused(e)
        case .success(.stats):
            return .stats(stats)
        case .success(.metrics):
            return .metrics(PrometheusText.render(stats))
        case .success(.replay(let r)):
            let identity = permissions?.grant(consumeBuffer, frame: 1).identity
            return replays.start(routingID: routingID, r, now: clock(), identity: identity).map { .replay($0) }
        case .success(.credit(let id, let credit)):
            replays.grant(routingID: routingID, id: id, credit: credit, now: clock())
            return nil
        case .success(.cancel(let id)):
            replays.cancel(routingID: routingID, id: id)
            return nil
        case .success(.group(let g)):
            if case .join = g, let permissions {
                let identity = permissions.grant(consumeBuffer, frame: 1).identity
                permissions.joined(routingID, as: identity) { Set(groups.memberships.map(\.member)) }
            }
            return groups.handle(g, from: routingID, now: clock()).map { .group($0) }
        }
    }
}
