import MetroProtocol
import ZeroMQ

/// Replay from the journal on the consume socket (protocol.md §4.9). Each loop
/// turn, `pumpReplays` sends every replay at most `replaySendsPerTurn` events (and
/// never more than its credit), reading at most `replayScansPerTurn` records, so
/// live traffic keeps flowing while replays run. Loop thread only.
extension BrokerEngine {
    static let maxReplays = 4096
    static let replaySendsPerTurn = 256
    static let replayScansPerTurn = 4096
    /// A replay that neither sends nor gets credit this long is dropped (its client
    /// is likely gone: ROUTER only tells us when we send).
    static let replayIdleNanoseconds: UInt64 = 300_000_000_000

    /// Starts (or restarts, for the same routing id and replay id) a replay. Returns
    /// the error reply when it cannot start.
    func startReplay(routingID: [UInt8], _ request: ReplayCodec.Request) -> [[UInt8]]? {
        let key = ReplaySession.Key(routingID: routingID, id: request.id)
        func failure(_ e: WireError, _ extra: [[UInt8]] = []) -> [[UInt8]] {
            IngestCodec.errorFrames(e, context: [request.id] + extra)
        }
        guard replays[key] != nil || replays.count < Self.maxReplays else {
            return failure(WireError(.unavailable, "too many replays in progress; retry later"))
        }
        let cursor: JournalCursor
        do {
            try endBatch()  // the cursor reads only what is written
            switch request.start {
            case .seq(let s):
                let earliest = journal.earliestReplayableSeq
                if s > 0 && s < earliest {
                    return failure(
                        WireError(.sequenceOutOfRange, "the journal holds seqs from \(earliest)"),
                        [BigEndian.bytes(earliest)])
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
        session.lastActivity = clock()
        replays[key] = session
        counters.replaysStarted &+= 1
        return nil
    }

    func grantReplayCredit(routingID: [UInt8], id: [UInt8], credit: UInt32) {
        // CREDIT for a replay that has ended is not an error: it crossed CAUGHT-UP.
        guard let s = replays[ReplaySession.Key(routingID: routingID, id: id)] else { return }
        s.grant(credit)
        s.lastActivity = clock()
    }

    func cancelReplay(routingID: [UInt8], id: [UInt8]) {
        replays[ReplaySession.Key(routingID: routingID, id: id)] = nil
    }

    /// Whether a replay can make progress now (the loop then polls without waiting).
    var replaysHaveWork: Bool {
        replays.values.contains { !$0.blocked && ($0.credit > 0 || $0.pending == nil) }
    }

    /// One bounded slice of every replay. Call after `endBatch()`.
    func pumpReplays() {
        guard !replays.isEmpty else { return }
        let head = journal.writtenSeq
        let now = clock()
        var finished: [ReplaySession.Key] = []
        for session in replays.values {
            switch pump(session, head: head) {
            case .more:
                if now > session.lastActivity && now - session.lastActivity > Self.replayIdleNanoseconds {
                    finished.append(session.key)
                }
            case .done(let last):
                // CAUGHT-UP is what closes the client's fill: at a full queue it
                // waits for the next turn like an event, it is never dropped.
                let frames = [session.key.routingID] + ReplayCodec.caughtUpFrames(id: session.key.id, lastSeq: last)
                do {
                    if try consume.trySend(multipart: frames) {
                        finished.append(session.key)
                    } else {
                        session.blocked = true
                    }
                } catch {
                    counters.drop(.replyUnroutable)
                    finished.append(session.key)
                }
            case .gone:
                finished.append(session.key)
            }
        }
        for key in finished { replays[key] = nil }
    }

    private enum PumpResult { case more, done(UInt64), gone }

    private func pump(_ session: ReplaySession, head: UInt64) -> PumpResult {
        let limit = session.limit(head: head)
        var scanned = 0, sent = 0
        session.blocked = false
        while scanned < Self.replayScansPerTurn && sent < Self.replaySendsPerTurn {
            if session.pending == nil {
                let record: JournalRecord?
                do {
                    record = try session.cursor.next(in: journal, upTo: limit)
                } catch {
                    logger.error("replay read failed: \(error)")
                    return .done(limit)
                }
                guard let record else { return .done(limit) }
                scanned += 1
                guard record.time >= session.notBefore, session.request.matches(record.topic) else { continue }
                session.pending = LiveEvent(record: record)
            }
            guard session.credit > 0, let event = session.pending else { break }
            let frames = [session.key.routingID] + ReplayCodec.eventFrames(id: session.key.id, event: event)
            do {
                guard try consume.trySend(multipart: frames) else {
                    session.blocked = true  // the client's queue is full: later
                    break
                }
            } catch {
                return .gone  // the client has disconnected
            }
            session.pending = nil
            session.credit -= 1
            sent += 1
            counters.replayed &+= 1
        }
        if sent > 0 { session.lastActivity = clock() }
        return .more
    }
}

extension LiveEvent {
    /// The live form of a journaled event (what replay sends inside EVENT).
    init(record: JournalRecord) {
        self.init(
            topic: String(decoding: record.topic, as: UTF8.self), seq: record.seq, time: record.time,
            eventID: record.eventID, headers: record.headers, payload: record.payload)
    }
}
