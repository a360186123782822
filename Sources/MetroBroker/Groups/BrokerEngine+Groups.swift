import Foundation
import MetroProtocol
import ZeroMQ

/// Durable consumer groups on the consume socket (protocol.md §4.10): the loop
/// carries out what each group's pure `ConsumerGroup` decides, feeds it events
/// from the journal in bounded slices (at most `groupReadsPerTurn` records per
/// group per turn, and only as much as its members' credit asks for), runs its
/// timers every `groupTickNs`, and saves the groups' state at most every
/// `groupSaveIntervalNs` while it changes. Loop thread only.
extension BrokerEngine {
    static let groupReadsPerTurn = 1024
    static let groupTickNs: UInt64 = 20_000_000
    static let groupSaveIntervalNs: UInt64 = 200_000_000
    static let maxGroups = 256

    var memberTimeoutNs: UInt64 { 3 * UInt64(max(1, configuration.heartbeatIntervalMs)) * 1_000_000 }

    /// Restores the groups saved in the data folder (called from `init`).
    func restoreGroups() throws {
        for g in try groupStore.load() {
            let state = ConsumerGroup(
                name: g.name, config: g.config, position: g.position, pending: g.pending,
                memberTimeoutNs: memberTimeoutNs)
            groups[g.name] = GroupRuntime(state: state, cursor: try journal.cursor(atOrAfter: g.position + 1))
        }
        if !groups.isEmpty { logger.info("consumer groups restored", metadata: ["groups": "\(groups.count)"]) }
    }

    /// Handles one group command; returns the reply, if the command has one.
    func handleGroup(_ request: GroupCodec.Request, from member: [UInt8]) -> [[UInt8]]? {
        let now = clock()
        let v = WireProtocol.versionBytes
        func failure(_ code: WireErrorCode, _ message: String, _ group: String, _ extra: [[UInt8]] = []) -> [[UInt8]] {
            IngestCodec.errorFrames(WireError(code, message), context: [Array(group.utf8)] + extra)
        }
        if case .join(let name, let memberName, let credit, let config) = request {
            guard let group = groups[name] ?? createGroup(name, config) else {
                return failure(.unavailable, "too many groups", name)
            }
            let actions = group.state.join(member, name: memberName, credit: credit, now: now)
            groupsDirty = true
            let c = group.state.config
            let joined = GroupCodec.Joined(
                group: name, prefixes: c.prefixes.map { String(decoding: $0, as: UTF8.self) },
                ackTimeoutMs: Int(c.ackTimeoutNs / 1_000_000), maxDeliveries: c.maxDeliveries,
                heartbeatMs: configuration.heartbeatIntervalMs, position: group.state.position)
            let json = (try? JSONEncoder.sorted.encode(joined)).map { [UInt8]($0) } ?? []
            // JOINED goes first, then the deliveries the join made possible.
            send(to: consume, [member, v, Array("JOINED".utf8), Array(name.utf8), json], onDrop: .replyUnroutable)
            perform(actions, in: group)
            return nil
        }
        let name: String
        switch request {
        case .grant(let g, _), .ack(let g, _), .nak(let g, _, _), .extend(let g, _, _), .heartbeat(let g),
            .leave(let g):
            name = g
        case .join: fatalError("handled above")
        }
        guard let group = groups[name] else { return failure(.unknownGroup, "no group \(name); JOIN creates it", name) }
        let notMember = failure(.unknownGroup, "this connection is not a member of \(name); JOIN again", name)
        do throws(ConsumerGroup.CommandError) {
            switch request {
            case .grant(_, let credit):
                guard let actions = group.state.grant(member, credit: credit, now: now) else { return notMember }
                perform(actions, in: group)
            case .heartbeat:
                guard group.state.heartbeat(member, now: now) else { return notMember }
                return [v, Array("HEARTBEAT".utf8), Array(name.utf8)]
            case .leave:
                perform(group.state.leave(member, now: now), in: group)
            case .ack(_, let seq):
                perform(try group.state.ack(member, seq: seq, now: now), in: group)
                group.events[seq] = nil
            case .nak(_, let seq, let delay):
                perform(try group.state.nak(member, seq: seq, delayNs: UInt64(delay) * 1_000_000, now: now), in: group)
            case .extend(_, let seq, let ms):
                try group.state.extend(member, seq: seq, byNs: UInt64(ms) * 1_000_000, now: now)
            case .join: break
            }
        } catch {
            guard error == .unknownDelivery else { return notMember }
            let seq: UInt64 =
                switch request {
                case .ack(_, let s), .nak(_, let s, _), .extend(_, let s, _): s
                default: 0
                }
            return failure(
                .unknownDelivery, "this member holds no delivery \(seq) of \(name)", name, [BigEndian.bytes(seq)])
        }
        groupsDirty = true
        return nil
    }

    private func createGroup(_ name: String, _ config: GroupCodec.Config) -> GroupRuntime? {
        guard groups.count < Self.maxGroups else { return nil }
        let position: UInt64
        if let s = config.startSeq {
            position = s > 0 ? s - 1 : 0
        } else if config.start == "latest" {
            position = journal.lastSeq
        } else {
            position = journal.earliestReplayableSeq - 1
        }
        let c = ConsumerGroup.Config(
            prefixes: (config.prefixes ?? []).map { Array($0.utf8) },
            ackTimeoutNs: UInt64(config.ackTimeoutMs ?? 30_000) * 1_000_000, maxDeliveries: config.maxDeliveries ?? 5)
        guard let cursor = try? journal.cursor(atOrAfter: position + 1) else { return nil }
        let group = GroupRuntime(
            state: ConsumerGroup(name: name, config: c, position: position, memberTimeoutNs: memberTimeoutNs),
            cursor: cursor)
        groups[name] = group
        groupsDirty = true
        logger.info("consumer group created", metadata: ["group": "\(name)", "position": "\(position)"])
        return group
    }

    /// Feeds each group the journal events its members have credit for. After `endBatch()`.
    func pumpGroups() {
        guard !groups.isEmpty else { return }
        let now = clock()
        let tick = now >= nextGroupTick
        if tick { nextGroupTick = now &+ Self.groupTickNs }
        for group in groups.values {
            if tick { perform(group.state.tick(now: now), in: group) }
            var reads = 0
            reading: while group.state.wantsEvents > 0 && reads < Self.groupReadsPerTurn {
                let step: JournalCursor.Step
                do { step = try group.cursor.step(in: journal, upTo: journal.writtenSeq) } catch {
                    logger.error("group read failed: \(error)")
                    break
                }
                switch step {
                case .end:
                    group.state.advance(to: journal.writtenSeq)
                    break reading
                case .lost(let first, let earliest):
                    // Skipped and counted (§4.10): the events are gone for everyone.
                    logger.warning(
                        "retention removed events before the group read them",
                        metadata: [
                            "group": "\(group.state.name)", "first": "\(first)", "earliest": "\(earliest)",
                        ])
                    group.state.expire(first: first, earliest: earliest)
                case .record(let record):
                    reads += 1
                    let matches = group.matches(record.topic)
                    if matches { group.events[record.seq] = LiveEvent(record: record) }
                    perform(group.state.offer(seq: record.seq, matches: matches, now: now), in: group)
                }
                groupsDirty = true
            }
        }
        if groupsDirty && now >= nextGroupSave { saveGroups() }
    }

    /// Whether a group could take events now (the loop then polls without waiting).
    var groupsHaveWork: Bool {
        groups.values.contains { $0.state.wantsEvents > 0 && $0.state.position < journal.writtenSeq }
    }

    func saveGroups() {
        do throws(JournalError) {
            try groupStore.save(groups.values.map(\.durable))
            groupsDirty = false
        } catch  where error.isSyncFailure {
            failStorage(error)
        } catch {
            // The old state file stays; the next save tries again.
            logger.error("saving the consumer groups failed: \(error)")
        }
        nextGroupSave = clock() &+ Self.groupSaveIntervalNs
    }

    /// Carries out a group's actions: deliveries, dead letters, lost members.
    func perform(_ actions: [ConsumerGroup.Action], in group: GroupRuntime) {
        for action in actions {
            switch action {
            case .deliver(let seq, let member, let attempt):
                guard let event = event(seq, in: group) else {
                    logger.warning(
                        "a pending event's record is gone (retention): dropped",
                        metadata: ["group": "\(group.state.name)", "seq": "\(seq)"])
                    group.state.forget(seq: seq)
                    continue
                }
                let frames =
                    [member]
                    + GroupCodec.deliverFrames(
                        group: group.state.name, seq: seq, attempt: UInt32(attempt), event: event)
                do {
                    if try consume.trySend(multipart: frames) { counters.groupDelivered &+= 1 }
                    // A full queue: the event stays held and its ACK timeout redelivers it.
                } catch {
                    perform(group.state.leave(member, now: clock()), in: group)  // the member has gone
                }
            case .deadLetter(let seq, let reason, let deliveries):
                deadLetter(seq, reason: reason, deliveries: deliveries, in: group)
            case .memberLost(_, let name):
                logger.warning("group member lost", metadata: ["group": "\(group.state.name)", "member": "\(name)"])
            }
        }
    }

    private func event(_ seq: UInt64, in group: GroupRuntime) -> LiveEvent? {
        if let e = group.events[seq] { return e }
        guard let r = try? journal.read(seq) else { return nil }  // flushes: after endBatch only
        let e = LiveEvent(record: r)
        group.events[seq] = e
        return e
    }

    /// Journals and publishes the event on `$metro.dead.<group>` with the reason.
    private func deadLetter(_ seq: UInt64, reason: String, deliveries: Int, in group: GroupRuntime) {
        defer { group.events[seq] = nil }
        guard let original = event(seq, in: group) else { return }
        let headers: [String: String] = [
            "group": group.state.name, "reason": reason, "deliveries": "\(deliveries)", "seq": "\(seq)",
            "topic": original.topic,
        ]
        let dead = LiveEvent(
            topic: group.deadLetterTopic, seq: nextSeq, time: clock(), eventID: original.eventID,
            headers: (try? JSONEncoder.sorted.encode(headers)).map { [UInt8]($0) } ?? [],
            payload: original.payload)
        do {
            try reservation.ensure(dead.seq)
            try journal.append(
                JournalRecord(
                    seq: dead.seq, time: dead.time, eventID: dead.eventID, topic: Array(dead.topic.utf8),
                    headers: dead.headers, payload: dead.payload))
        } catch {
            logger.error("dead letter could not be journaled: \(error)")
            return
        }
        nextSeq += 1
        counters.accepted &+= 1
        try? endBatch()  // written and handed to the syncer now, like any batch
        if (try? events.trySend(multipart: dead.frames)) == true { counters.delivered &+= 1 }
        logger.warning(
            "event dead-lettered", metadata: ["group": "\(group.state.name)", "seq": "\(seq)", "reason": "\(reason)"])
    }

    var groupStats: [String: GroupStats] {
        groups.mapValues { g in
            GroupStats(
                members: g.state.members.count, pending: g.state.pending.count, redelivered: g.state.redelivered,
                deadLettered: g.state.deadLettered, expired: g.state.expired, position: g.state.position,
                // Against the last journaled seq, not the head: after a crash the
                // head jumps past a reserved block (§4.1) that holds no events.
                lag: journal.lastSeq > g.state.position ? journal.lastSeq - g.state.position : 0)
        }
    }
}
