import Foundation
import Logging
import MetroProtocol

/// Durable consumer groups on the consume socket (protocol.md §4.10): carries out
/// what each group's pure `ConsumerGroup` decides, feeds it events from the journal
/// in bounded slices (at most `readsPerTurn` records per group per turn, and only
/// as much as its members' credit asks for), runs its timers every `tickNs`, and
/// saves the groups' state at most every `saveIntervalNs` while it changes.
///
/// A command returns its reply (HEARTBEAT, or an ERROR); deliveries, and the JOINED
/// that precedes the deliveries a JOIN makes possible, go out through the
/// `ConsumeSender` it is handed, because a failed send changes the group (the
/// member has gone). A member that asked for packed delivery (JOIN's `batchBytes`,
/// §4.10.2) gets its deliveries of one `perform` in DELIVER-PACKED bodies of at most
/// that many record bytes, sent when `perform` ends. Dead letters are appended to
/// the `EventLog` like any event.
///
/// Threading: owned by the broker's loop thread.
final class GroupCoordinator {
    static let readsPerTurn = 1024
    static let tickNs: UInt64 = 20_000_000
    static let saveIntervalNs: UInt64 = 200_000_000
    static let maxGroups = 256

    private let log: EventLog
    private var journal: Journal { log.journal }
    private let sender: ConsumeSender
    private let counters: BrokerCounters
    private let logger: Logger
    private let store: GroupStore
    private let heartbeatMs: Int
    private let memberTimeoutNs: UInt64
    private var groups: [String: GroupRuntime] = [:]
    private var dirty = false
    private var nextSave: UInt64 = 0
    /// A save that fails (a full disk) is tried again every `saveIntervalNs`:
    /// logged at most once a second, and once when a save works again.
    private var saveLog = LogThrottle(periodNs: 1_000_000_000)
    private var failedSaves = 0
    private var nextTick: UInt64 = 0
    /// Called with a storage error (a failed dead-letter append, a failed sync of
    /// the state file): the engine decides what it means (§4.2.7).
    var storageError: (JournalError) -> Void = { _ in }

    /// Restores the groups saved in the data folder.
    init(
        log: EventLog, sender: ConsumeSender, counters: BrokerCounters, directory: String, heartbeatMs: Int,
        logger: Logger
    ) throws {
        self.log = log
        self.sender = sender
        self.counters = counters
        self.logger = logger
        store = GroupStore(directory: directory)
        self.heartbeatMs = heartbeatMs
        memberTimeoutNs = 3 * UInt64(max(1, heartbeatMs)) * 1_000_000
        for g in try store.load() {
            let state = ConsumerGroup(
                name: g.name, config: g.config, position: g.position, pending: g.pending,
                memberTimeoutNs: memberTimeoutNs)
            groups[g.name] = GroupRuntime(state: state, cursor: try log.journal.cursor(atOrAfter: g.position + 1))
        }
        if !groups.isEmpty { logger.info("consumer groups restored", metadata: ["groups": "\(groups.count)"]) }
    }

    var isEmpty: Bool { groups.isEmpty }

    /// The prefixes of group `name` if it exists (a JOIN's config does not change them).
    func prefixes(of name: String) -> [[UInt8]]? { groups[name]?.state.config.prefixes }

    /// Handles one group command from `member`; returns the reply, if it has one.
    func handle(_ request: GroupCodec.Request, from member: [UInt8], now: UInt64) -> GroupCodec.Reply? {
        let name = request.group
        func failure(_ code: WireErrorCode, _ message: String, _ extra: [[UInt8]] = []) -> GroupCodec.Reply {
            .error(WireError(code, message), context: [Array(name.utf8)] + extra)
        }
        if case .join(_, let memberName, let credit, let config) = request {
            guard let group = groups[name] ?? create(name, config) else {
                return failure(.unavailable, "too many groups")
            }
            let batchBytes = config.batchBytes.map { $0 == 0 ? ReplayCodec.defaultBatchBytes : $0 }
            let actions = group.state.join(member, name: memberName, credit: credit, batchBytes: batchBytes, now: now)
            dirty = true
            let c = group.state.config
            let joined = GroupCodec.Joined(
                group: name, prefixes: c.prefixes.map { String(decoding: $0, as: UTF8.self) },
                ackTimeoutMs: Int(c.ackTimeoutNs / 1_000_000), maxDeliveries: c.maxDeliveries,
                heartbeatMs: heartbeatMs, position: group.state.position, batchBytes: batchBytes)
            // JOINED goes first, then the deliveries the join made possible.
            if sender.send(.group(.joined(joined)), to: member) != .queued { counters.drop(.replyUnroutable) }
            perform(actions, in: group, now: now)
            return nil
        }
        guard let group = groups[name] else { return failure(.unknownGroup, "no group \(name); JOIN creates it") }
        if case .delete = request { return delete(name, group, now: now, failure: failure) }
        if case .skipDamaged(_, let seq) = request {
            return skipDamaged(name, group, seq: seq, now: now, failure: failure)
        }
        let notMember = failure(.unknownGroup, "this connection is not a member of \(name); JOIN again")
        do throws(ConsumerGroup.CommandError) {
            switch request {
            case .grant(_, let credit):
                guard let actions = group.state.grant(member, credit: credit, now: now) else { return notMember }
                perform(actions, in: group, now: now)
            case .heartbeat:
                guard group.state.heartbeat(member, now: now) else { return notMember }
                return .heartbeat(group: name)
            case .leave:
                perform(group.state.leave(member, now: now), in: group, now: now)
            case .ack(_, let seq):
                perform(try group.state.ack(member, seq: seq, now: now), in: group, now: now)
                group.events[seq] = nil
            case .nak(_, let seq, let delay):
                let actions = try group.state.nak(member, seq: seq, delayNs: UInt64(delay) * 1_000_000, now: now)
                perform(actions, in: group, now: now)
            case .extend(_, let seq, let ms):
                try group.state.extend(member, seq: seq, byNs: UInt64(ms) * 1_000_000, now: now)
            case .reject(_, let seq, let reason):
                perform(try group.state.reject(member, seq: seq, detail: reason, now: now), in: group, now: now)
            case .acks(_, let credit, let seqs):
                let (actions, unknown) = try group.state.acks(member, seqs: seqs, credit: credit, now: now)
                for seq in seqs where group.state.pending[seq] == nil { group.events[seq] = nil }
                perform(actions, in: group, now: now)
                if !unknown.isEmpty {
                    dirty = true
                    let what = unknown.count == 1 ? "delivery \(unknown[0])" : "\(unknown.count) of these deliveries"
                    return failure(
                        .unknownDelivery, "this member holds no \(what) of \(name)",
                        [unknown.flatMap { BigEndian.bytes($0) }])
                }
            case .join, .delete, .skipDamaged: break
            }
        } catch {
            guard error == .unknownDelivery else { return notMember }
            let seq: UInt64 =
                switch request {
                case .ack(_, let s), .nak(_, let s, _), .extend(_, let s, _), .reject(_, let s, _): s
                default: 0
                }
            return failure(.unknownDelivery, "this member holds no delivery \(seq) of \(name)", [BigEndian.bytes(seq)])
        }
        dirty = true
        return nil
    }

    /// A read of the group's next record failed: the group waits before it, and the
    /// first failure (or a new one) is logged with what an operator needs to act:
    /// the record's seq by the index, its file and offset, and SKIP-DAMAGED.
    private func stalled(_ group: GroupRuntime, _ error: JournalError) {
        let text = "\(error)"
        guard group.stall?.error != text else { return }
        let base = group.cursor.base, offset = group.cursor.offset
        let seq: UInt64?
        do { seq = try journal.indexedSeq(segmentBase: base, offset: offset) } catch {
            logger.error("finding a damaged record in the index failed: \(error)")
            seq = nil
        }
        let segment = String(JournalSegment.path(journal.directory, base, "seg").split(separator: "/").last ?? "")
        let stall = GroupStall(seq: seq, segment: segment, offset: offset, error: text)
        group.stall = stall
        logger.error(
            "group read failed: the group waits before this record",
            metadata: [
                "group": "\(group.state.name)", "seq": "\(seq.map(String.init) ?? "unknown")",
                "segment": "\(segment)", "offset": "\(offset)", "error": "\(text)",
                "remedy": "\(stall.explanation(group: group.state.name))",
            ])
    }

    /// SKIP-DAMAGED (§4.10.4): moves a stalled group past the damaged record, which
    /// the caller names by its seq, so that a skip is always meant (a group not
    /// stalled there is refused with 108). The record is lost for this group only,
    /// and the position is saved before SKIPPED is sent.
    private func skipDamaged(
        _ name: String, _ group: GroupRuntime, seq: UInt64, now: UInt64,
        failure: (WireErrorCode, String, [[UInt8]]) -> GroupCodec.Reply
    ) -> GroupCodec.Reply {
        guard let stall = group.stall else {
            return failure(
                .invalidArgument,
                "group \(name) is not stopped at a damaged record (it has handed out up to seq \(group.state.position)); nothing is skipped",
                [])
        }
        guard let damaged = stall.seq else {
            return failure(
                .invalidArgument,
                "group \(name) is stopped at offset \(stall.offset) of \(stall.segment), which the index does not name: repair it from a backup (system stopped: metro backup repair-journal --from BACKUP)",
                [])
        }
        guard damaged == seq else {
            return failure(
                .invalidArgument,
                "group \(name) is stopped at the damaged record \(damaged), not \(seq); nothing is skipped", [])
        }
        do { group.cursor = try journal.cursor(atOrAfter: seq + 1) } catch {
            return failure(.internalError, "the journal's index could not be read: \(error)", [])
        }
        group.state.advance(to: seq)
        group.stall = nil
        group.damagedSkipped += 1
        dirty = true
        save(now: now)
        logger.warning(
            "damaged record skipped: the group reads on after it",
            metadata: [
                "group": "\(name)", "seq": "\(seq)", "segment": "\(stall.segment)", "offset": "\(stall.offset)",
            ])
        return .skipped(
            GroupCodec.Skipped(
                group: name, seq: seq, segment: stall.segment, offset: stall.offset, position: group.state.position))
    }

    /// DELETE (§4.10.3): a group with no member goes, with its position and pending
    /// set, and the state file is saved before DELETED is sent, so that a crash
    /// after the answer cannot bring it back. A group with members stays (108): a
    /// member would otherwise find its group gone under it.
    private func delete(
        _ name: String, _ group: GroupRuntime, now: UInt64,
        failure: (WireErrorCode, String, [[UInt8]]) -> GroupCodec.Reply
    ) -> GroupCodec.Reply {
        let members = group.state.members.values.sorted { $0.name < $1.name }
        guard members.isEmpty else {
            // Who, and since when silent: a stopped member is dropped once its heartbeats stop.
            let named = members.prefix(5).map { m in
                "\(m.name) (heard from \(String(format: "%.1f", Double(now &- min(now, m.lastSeen)) / 1e9)) s ago)"
            }
            let more = members.count > 5 ? " and \(members.count - 5) more" : ""
            let timeout = String(format: "%.0f", Double(group.state.memberTimeoutNs) / 1e9)
            return failure(
                .invalidArgument,
                "group \(name) has \(members.count) member\(members.count == 1 ? "" : "s"): \(named.joined(separator: ", "))\(more); they must leave (or be stopped) first; a stopped member is dropped \(timeout) s after it was last heard from",
                [])
        }
        let deleted = GroupCodec.Deleted(
            group: name, prefixes: group.state.config.prefixes.map { String(decoding: $0, as: UTF8.self) },
            position: group.state.position, pending: group.state.pending.count)
        groups[name] = nil
        dirty = true
        save(now: now)
        logger.notice(
            "consumer group deleted",
            metadata: ["group": "\(name)", "position": "\(deleted.position)", "pending": "\(deleted.pending)"])
        return .deleted(deleted)
    }

    /// Every membership now: the group, its prefixes and the member's routing id.
    var memberships: [(group: String, prefixes: [[UInt8]], member: [UInt8])] {
        groups.flatMap { name, group in
            group.state.members.keys.map { (name, group.state.config.prefixes, $0) }
        }
    }

    /// Ends `member`'s membership of `group` with `error` (an allow-list reload
    /// withdrew its permission): the ERROR goes to the member, and what it held is
    /// redelivered to the others at once, as when its connection closes.
    func expel(_ member: [UInt8], from name: String, _ error: WireError, now: UInt64) {
        guard let group = groups[name], group.state.members[member] != nil else { return }
        if sender.send(.group(.error(error, context: [Array(name.utf8)])), to: member) != .queued {
            counters.drop(.replyUnroutable)
        }
        perform(group.state.lose(member, now: now), in: group, now: now)
        dirty = true
    }

    /// The connection of `member` closed: it is lost in every group it was in,
    /// and what it held is redelivered at once (§4.10, "Redelivery").
    func connectionLost(_ member: [UInt8], now: UInt64) {
        for group in groups.values where group.state.members[member] != nil {
            perform(group.state.lose(member, now: now), in: group, now: now)
            dirty = true
        }
    }

    private func create(_ name: String, _ config: GroupCodec.Config) -> GroupRuntime? {
        guard groups.count < Self.maxGroups else { return nil }
        let position: UInt64
        if let s = config.startSeq {
            position = s > 0 ? s - 1 : 0
        } else {
            switch config.start ?? .earliest {
            case .latest: position = journal.lastSeq
            case .earliest: position = journal.earliestReplayableSeq - 1
            }
        }
        let c = ConsumerGroup.Config(
            prefixes: (config.prefixes ?? []).map { Array($0.utf8) },
            ackTimeoutNs: UInt64(config.ackTimeoutMs ?? 30_000) * 1_000_000, maxDeliveries: config.maxDeliveries ?? 5)
        guard let cursor = try? journal.cursor(atOrAfter: position + 1) else { return nil }
        let group = GroupRuntime(
            state: ConsumerGroup(name: name, config: c, position: position, memberTimeoutNs: memberTimeoutNs),
            cursor: cursor)
        groups[name] = group
        dirty = true
        logger.info("consumer group created", metadata: ["group": "\(name)", "position": "\(position)"])
        return group
    }

    /// Runs the timers and feeds each group the journal events its members have
    /// credit for, up to the journal's written end.
    func pump(now: UInt64) {
        guard !groups.isEmpty else { return }
        let tick = now >= nextTick
        if tick { nextTick = now &+ Self.tickNs }
        for group in groups.values {
            if tick { perform(group.state.tick(now: now), in: group, now: now) }
            var reads = 0
            // What the members' credit asks for, counted down here: one sum per turn,
            // and members are chosen once for the whole slice (`deliverReady`).
            var wanted = group.state.wantsEvents
            reading: while wanted > 0 && reads < Self.readsPerTurn {
                let step: JournalCursor.RawStep
                do {
                    step = try group.cursor.stepRaw(in: journal, upTo: journal.writtenSeq)
                    if group.stall != nil { group.stall = nil }
                } catch {
                    // A damaged record: the group stays before it (never skips it as
                    // if the journal ended there), and says so once.
                    stalled(group, error)
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
                case .record(let seq, _, _):
                    reads += 1
                    // The record's bytes as the journal holds them (checksum verified):
                    // a packed delivery copies them as they are (§4.10.2).
                    let matches = group.cursor.withLastRecord { raw in
                        guard group.matches(JournalRecord.topic(in: raw)) else { return false }
                        group.events[seq] = Array(raw)
                        return true
                    }
                    if matches { wanted -= 1 }
                    group.state.take(seq: seq, matches: matches)
                }
                dirty = true
            }
            if reads > 0 { perform(group.state.deliverReady(now: now), in: group, now: now) }
        }
        if dirty && now >= nextSave { save(now: now) }
    }

    /// Whether a group could take events now (the loop then polls without waiting).
    var hasWork: Bool {
        groups.values.contains { $0.state.wantsEvents > 0 && $0.state.position < journal.writtenSeq }
    }

    /// Writes the groups' state (`GroupStore`); a failed sync is a storage error.
    ///
    /// A failed write (the disk is full) changes nothing in the groups: deliveries
    /// and ACKs go on from memory, the old state file stays, and the next save tries
    /// again. Only a crash meanwhile costs something: the restarted broker resumes
    /// from the older file and redelivers what was ACKed since (consumers' inboxes
    /// drop the repeats).
    func save(now: UInt64) {
        do throws(JournalError) {
            try store.save(groups.values.map(\.durable))
            dirty = false
            if failedSaves > 0 {
                logger.notice(
                    "the consumer groups are saved again", metadata: ["failed-saves-before": "\(failedSaves)"])
                failedSaves = 0
                saveLog = LogThrottle(periodNs: saveLog.periodNs)
            }
        } catch  where error.isSyncFailure {
            storageError(error)
        } catch {
            failedSaves += 1
            if let held = saveLog.allow(now: now) {
                logger.error(
                    "saving the consumer groups failed; the old state file stays, and groups go on from memory: \(error)",
                    metadata: ["failed-saves": "\(failedSaves)", "lines-held-back": "\(held)"])
            }
        }
        nextSave = now &+ Self.saveIntervalNs
    }

    /// Carries out a group's actions: deliveries, dead letters, lost members; then
    /// sends the DELIVER-PACKED bodies they filled.
    private func perform(_ actions: [ConsumerGroup.Action], in group: GroupRuntime, now: UInt64) {
        carryOut(actions, in: group, now: now)
        flushPacked(now: now)
    }

    private func carryOut(_ actions: [ConsumerGroup.Action], in group: GroupRuntime, now: UInt64) {
        for action in actions {
            switch action {
            case .deliver(let seq, let member, let attempt):
                let record: [UInt8]
                switch self.record(seq, in: group) {
                case .record(let r): record = r
                case .gone:
                    logger.warning(
                        "a pending event's record is gone (retention): dropped",
                        metadata: ["group": "\(group.state.name)", "seq": "\(seq)"])
                    group.state.forget(seq: seq)
                    continue
                case .unreadable(let error):
                    // Not sent, and not forgotten: the member holds it unsent, so its
                    // ACK timeout gives it back and the read is tried again (a
                    // descriptor shortage passes; a damaged record ends, after
                    // maxDeliveries, at `deadLetter`, which says so).
                    if group.unreadable.insert(seq).inserted {
                        logger.error(
                            "a pending event's record cannot be read: not delivered now, tried again after its ACK timeout",
                            metadata: ["group": "\(group.state.name)", "seq": "\(seq)", "error": "\(error)"])
                    }
                    continue
                }
                if let limit = group.state.members[member]?.batchBytes {
                    pack(record, attempt: UInt32(attempt), for: member, limit: limit, in: group, now: now)
                    continue
                }
                let event = Self.event(record)
                let deliver = GroupCodec.Reply.deliver(
                    group: group.state.name, seq: seq, attempt: UInt32(attempt), event)
                switch sender.send(.group(deliver), to: member) {
                case .queued:
                    counters.groupDelivered &+= 1
                    counters.topics.countOut(event.topic)
                case .full: break  // the event stays held and its ACK timeout redelivers it
                case .gone: perform(group.state.leave(member, now: now), in: group, now: now)
                }
            case .deadLetter(let seq, let reason, let deliveries, let detail):
                deadLetter(seq, reason: reason, deliveries: deliveries, detail: detail, in: group, now: now)
            case .memberLost(_, let name):
                logger.warning("group member lost", metadata: ["group": "\(group.state.name)", "member": "\(name)"])
            }
        }
    }

    /// A DELIVER-PACKED body being filled for one member.
    private struct Packing {
        let group: GroupRuntime
        var body = PackedDelivery()
    }
    private var packing: [[UInt8]: Packing] = [:]

    /// Adds a delivery to the member's body; sends the body first when the record
    /// would take it past the member's `batchBytes` (a larger record goes alone).
    private func pack(
        _ record: [UInt8], attempt: UInt32, for member: [UInt8], limit: Int, in group: GroupRuntime, now: UInt64
    ) {
        if let p = packing[member], p.body.records.count + record.count > limit {
            packing[member] = nil
            send(p, to: member, now: now)
        }
        packing[member, default: Packing(group: group)].body.append(attempt: attempt, record: record)
    }

    /// Sends every body filled so far.
    private func flushPacked(now: UInt64) {
        while let (member, p) = packing.first {
            packing[member] = nil
            send(p, to: member, now: now)
        }
    }

    private func send(_ p: Packing, to member: [UInt8], now: UInt64) {
        switch sender.send(.group(.deliverPacked(group: p.group.state.name, p.body)), to: member) {
        case .queued:
            counters.groupDelivered &+= UInt64(p.body.count)
            p.body.forEachTopic { counters.topics.countOut(raw: $0) }
        case .full: break  // the events stay held and their ACK timeout redelivers them
        case .gone: carryOut(p.group.state.leave(member, now: now), in: p.group, now: now)
        }
    }

    /// What reading a pending event's record found.
    private enum PendingRecord {
        case record([UInt8])
        /// The journal no longer holds it (retention removed its segment).
        case gone
        /// The journal holds it and it could not be read: an I/O error, or damage.
        case unreadable(JournalError)
    }

    /// The journal record of a pending event: kept since the group read it, or
    /// read back through the index (after a restart).
    private func record(_ seq: UInt64, in group: GroupRuntime) -> PendingRecord {
        if let r = group.events[seq] { return .record(r) }
        do {
            guard let r = try journal.read(seq) else { return .gone }  // flushes: after the loop's endBatch only
            let raw = r.encoded
            group.events[seq] = raw
            group.unreadable.remove(seq)
            return .record(raw)
        } catch {
            return .unreadable(error)
        }
    }

    /// The event of a record `record(_:in:)` returned (checked when it was read).
    private static func event(_ record: [UInt8]) -> LiveEvent {
        record.withUnsafeBytes { LiveEvent(record: JournalRecord(validated: $0)) }
    }

    /// Appends the event to `$metro.dead.<group>` with the reason (§4.10), through
    /// the event log like any event: journaled, counted, fanned out. The loop
    /// writes it with the turn's batch. Every path to the dead-letter topic
    /// (maxDeliveries and REJECT) comes through here; `detail` is REJECT's text.
    private func deadLetter(
        _ seq: UInt64, reason: String, deliveries: Int, detail: String?, in group: GroupRuntime, now: UInt64
    ) {
        defer {
            group.events[seq] = nil
            group.unreadable.remove(seq)
        }
        let original: LiveEvent
        switch record(seq, in: group) {
        case .record(let r): original = Self.event(r)
        case .gone: return  // retention took it: nothing to publish
        case .unreadable(let error):
            logger.error(
                "an event ended without its dead letter: its record cannot be read",
                metadata: [
                    "group": "\(group.state.name)", "seq": "\(seq)", "reason": "\(reason)", "error": "\(error)",
                ])
            return
        }
        var headers: [String: String] = [
            "group": group.state.name, "reason": reason, "deliveries": "\(deliveries)", "seq": "\(seq)",
            "topic": original.topic,
        ]
        if let detail { headers["detail"] = detail }
        do throws(JournalError) {
            _ = try log.append(
                topic: Array(group.deadLetterTopic.utf8), time: now, id: original.eventID,
                headers: WireJSON.encode(headers),
                payload: original.payload)
        } catch {
            logger.error("dead letter could not be journaled: \(error)")
            storageError(error)
            return
        }
        var metadata: Logger.Metadata = ["group": "\(group.state.name)", "seq": "\(seq)", "reason": "\(reason)"]
        if let detail { metadata["detail"] = "\(detail)" }
        logger.warning("event dead-lettered", metadata: metadata)
    }

    /// Each group's numbers for STATS (§4.5).
    var stats: [String: GroupStats] {
        groups.mapValues { g in
            GroupStats(
                members: g.state.members.count, pending: g.state.pending.count, redelivered: g.state.redelivered,
                deadLettered: g.state.deadLettered, expired: g.state.expired, position: g.state.position,
                // Journaled events after the position, not seqs: after a crash
                // seqs jump past a reserved block (§4.1) that holds no events.
                lag: lag(after: g.state.position), stalled: g.stall, damagedSkipped: g.damagedSkipped)
        }
    }

    private func lag(after position: UInt64) -> UInt64 {
        guard journal.lastSeq > position else { return 0 }
        do { return try journal.recordCount(after: position) } catch {
            logger.error("counting a group's lag failed: \(error)")
            return journal.lastSeq - position
        }
    }
}
