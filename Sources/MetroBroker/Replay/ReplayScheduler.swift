import Logging
import MetroProtocol

/// Replay from the journal on the consume socket (protocol.md §4.9): starts,
/// credits and cancels replays, and each loop turn (`pump`) sends every replay at
/// most `sendsPerTurn` events (never more than its credit), reading at most
/// `scansPerTurn` records, so live traffic keeps flowing while replays run. A
/// replay that cannot send releases its cursor (no descriptor, no chunk held:
/// `ReplaySession`). A replay in the packed form (§4.9.2, `pumpPacked`) sends
/// the journal's records as they are, many per EVENT-PACKED frame.
///
/// Commands return their reply (an ERROR when a replay cannot start); the replay
/// streams go out through the `ConsumeSender` it is handed, because each send's
/// outcome (full, gone) decides what the stream does next.
///
/// Threading: owned by the broker's loop thread.
final class ReplayScheduler {
    static let sendsPerTurn = 256
    static let scansPerTurn = 4096

    let journal: Journal
    let sender: ConsumeSender
    let counters: BrokerCounters
    let logger: Logger
    /// A replay that neither sends nor gets credit this long ends (`limits.replayIdleMs`).
    /// ROUTER tells us a client has gone only when a send fails, and a replay
    /// without credit is never sent to: the ERROR 109 that ends an idle replay is
    /// that send. A live client learns its replay ended (CREDIT for it would be
    /// ignored); a gone one's replay is removed either way.
    private let idleMs: Int
    private var replays = ReplayTable()

    init(journal: Journal, sender: ConsumeSender, counters: BrokerCounters, idleMs: Int, logger: Logger) {
        self.journal = journal
        self.sender = sender
        self.counters = counters
        self.idleMs = max(1, idleMs)
        self.logger = logger
    }

    var isEmpty: Bool { replays.isEmpty }
    var count: Int { replays.count }
    private var idleNanoseconds: UInt64 { UInt64(idleMs) * 1_000_000 }

    /// Starts (or restarts, for the same routing id and replay id) a replay. Returns
    /// the error reply when it cannot start. The journal must be flushed first: the
    /// cursor reads only what is written.
    func start(
        routingID: [UInt8], _ request: ReplayCodec.Request, now: UInt64, identity: String? = nil
    ) -> ReplayCodec.Reply? {
        let key = ReplaySession.Key(routingID: routingID, id: request.id)
        func failure(_ e: WireError, earliest: UInt64? = nil) -> ReplayCodec.Reply {
            .error(e, id: request.id, seq: earliest)
        }
        if let refusal = replays.refusal(for: key) { return failure(WireError(.unavailable, refusal)) }
        let cursor: JournalCursor
        do {
            switch request.start {
            case .seq(let s):
                let earliest = journal.earliestReplayableSeq
                if s > 0 && s < earliest {
                    return failure(
                        WireError(.sequenceOutOfRange, "the journal holds seqs from \(earliest)"), earliest: earliest)
                }
                cursor = try journal.cursor(atOrAfter: s)
            case .time(let t):
                cursor = journal.cursor(atOrAfterTime: t)
            }
        } catch {
            logger.error("replay could not start: \(error)")
            return failure(WireError(.internalError, "the journal could not be read"))
        }
        let session = ReplaySession(key: key, request: request, cursor: cursor)
        session.lastActivity = now
        session.identity = identity
        replays[key] = session
        counters.replaysStarted &+= 1
        return nil
    }

    func grant(routingID: [UInt8], id: [UInt8], credit: UInt32, now: UInt64) {
        // CREDIT for a replay that has ended is not an error: it crossed CAUGHT-UP.
        guard let s = replays[ReplaySession.Key(routingID: routingID, id: id)] else { return }
        s.grant(credit)
        s.lastActivity = now
    }

    func cancel(routingID: [UInt8], id: [UInt8]) {
        replays[ReplaySession.Key(routingID: routingID, id: id)] = nil
    }

    /// Ends every replay for which `refusal` gives an error: its client gets that
    /// ERROR (on the next `pump`, before any further event: what was read but not
    /// sent is dropped). Returns how many.
    func withdraw(where refusal: (ReplaySession) -> WireError?) -> Int {
        var ended = 0
        for session in replays.values where session.ending == nil {
            guard let e = refusal(session) else { continue }
            session.ending = .error(e, id: session.key.id, seq: nil)
            session.pending = nil
            session.pendingFrame = nil
            session.blocked = false
            ended += 1
        }
        return ended
    }

    /// How long the loop may wait in poll for the replays' sake: 0 when one can
    /// make progress now, 5 ms when one waits for room in its client's queue (ZeroMQ
    /// does not say when there is room), no limit when all wait for CREDIT (which
    /// arrives as input) or there are none. Idle expiry rides on the heartbeat's wake-ups.
    var waitMilliseconds: Int? {
        var blocked = false
        for s in replays.values {
            if s.hasWork { return 0 }
            if s.blocked { blocked = true }
        }
        return blocked ? 5 : nil
    }

    /// One bounded slice of every replay, up to the journal's written end.
    func pump(now: UInt64, clock: () -> UInt64) {
        guard !replays.isEmpty else { return }
        let head = journal.writtenSeq
        var finished: [ReplaySession.Key] = []
        for session in replays.values {
            // A parked replay waits for CREDIT: nothing to read, nothing held.
            var result: PumpResult =
                session.waitsForCredit
                ? .more
                : session.batchBytes == nil
                    ? pump(session, head: head, clock: clock) : pumpPacked(session, head: head, clock: clock)
            if case .more = result, now > session.lastActivity, now - session.lastActivity > idleNanoseconds {
                let idle = WireError(.unavailable, "replay idle for \(idleMs) ms: ended")
                result = .end(.error(idle, id: session.key.id, seq: nil))
            }
            switch result {
            case .more:
                break
            case .end(let reply):
                // CAUGHT-UP or ERROR closes the client's fill: at a full queue it
                // waits for the next turn like an event, it is never dropped.
                switch sender.send(.replay(reply), to: session.key.routingID) {
                case .queued:
                    finished.append(session.key)
                case .full:
                    session.ending = reply
                    session.blocked = true
                    session.cursor.release()
                case .gone:
                    counters.drop(.replyUnroutable)
                    finished.append(session.key)
                }
            case .gone:
                finished.append(session.key)
            }
        }
        for key in finished { replays[key] = nil }
    }

    /// The ERROR that ends a replay whose read failed, never CAUGHT-UP (the client
    /// would take unread events for absent ones). When the cursor stands at a
    /// damaged record that the segment's index names, 206 with its seq: every
    /// matching event before it was sent, and the client may replay from the next
    /// seq (§4.9 "Read failures"). Any other failure (a descriptor shortage, EIO, a
    /// record the index does not name) is 107: replaying again may succeed.
    func readFailure(_ error: JournalError, _ session: ReplaySession) -> ReplayCodec.Reply {
        let id = session.key.id
        let base = session.cursor.base, offset = session.cursor.offset
        var seq: UInt64? = nil
        if error.code == .corrupt {
            do { seq = try journal.indexedSeq(segmentBase: base, offset: offset) } catch {
                logger.error("finding a damaged record in the index failed: \(error)")
            }
        }
        guard let seq else {
            logger.error("replay read failed: \(error)")
            return .error(WireError(.internalError, "the journal could not be read; replay again"), id: id, seq: nil)
        }
        let segment = JournalSegment.path(journal.directory, base, "seg").split(separator: "/").last ?? ""
        counters.replaysDamaged &+= 1
        logger.error(
            "replay reached a damaged journal record: it ends there",
            metadata: [
                "seq": "\(seq)", "segment": "\(segment)", "offset": "\(offset)", "error": "\(error)",
                "remedy":
                    "repair the journal from a backup (system stopped: metro backup repair-journal --from BACKUP); a client may replay from seq \(seq + 1)",
            ])
        let e = WireError(
            .damagedRecord,
            "the journal record \(seq) is damaged (\(segment), offset \(offset)); replay from \(seq + 1)")
        return .error(e, id: id, seq: seq)
    }

    enum PumpResult {
        case more
        /// The replay ends with this message.
        case end(ReplayCodec.Reply)
        /// The client has disconnected.
        case gone
    }

    private func pump(_ session: ReplaySession, head: UInt64, clock: () -> UInt64) -> PumpResult {
        if let ending = session.ending { return .end(ending) }
        let id = session.key.id
        let limit = session.limit(head: head)
        var scanned = 0
        var sent = 0
        session.blocked = false
        defer { if sent > 0 { session.lastActivity = clock() } }
        while scanned < Self.scansPerTurn && sent < Self.sendsPerTurn {
            if session.pending == nil {
                let step: JournalCursor.Step
                do {
                    step = try session.cursor.step(in: journal, upTo: limit)
                } catch {
                    return .end(readFailure(error, session))
                }
                switch step {
                case .end:
                    return .end(.caughtUp(id: id, lastSeq: limit))
                case .lost(let first, let earliest):
                    logger.warning(
                        "replay reached seqs that retention removed",
                        metadata: ["first": "\(first)", "earliest": "\(earliest)"])
                    let e = WireError(.sequenceOutOfRange, "retention removed seqs \(first)-\(earliest - 1)")
                    return .end(.error(e, id: id, seq: earliest))
                case .record(let record):
                    scanned += 1
                    guard record.time >= session.notBefore, session.request.matches(record.topic) else { continue }
                    guard session.credit > 0 else {
                        // No credit: keep only the position (read again when CREDIT comes).
                        session.cursor.rewind()
                        session.cursor.release()
                        session.parked = true
                        return .more
                    }
                    session.parked = false
                    session.pending = LiveEvent(record: record)
                }
            }
            guard session.credit > 0, let event = session.pending else { break }
            switch sender.send(.replay(.event(id: id, event)), to: session.key.routingID) {
            case .queued: break
            case .full:
                session.blocked = true  // the client's queue is full: later
                session.cursor.release()
                return .more
            case .gone:
                return .gone  // the client has disconnected
            }
            session.pending = nil
            session.credit -= 1
            sent += 1
            counters.replayed &+= 1
            counters.topics.countOut(event.topic)
        }
        return .more
    }
}
