import MetroProtocol
import ZeroMQ

/// Replay from the journal on the consume socket (protocol.md §4.9). Each loop
/// turn, `pumpReplays` sends every replay at most `replaySendsPerTurn` events (and
/// never more than its credit), reading at most `replayScansPerTurn` records, so
/// live traffic keeps flowing while replays run. A replay that cannot send
/// releases its cursor (no descriptor, no chunk held: `ReplaySession`). Loop
/// thread only.
extension BrokerEngine {
    static let replaySendsPerTurn = 256
    static let replayScansPerTurn = 4096

    /// A replay that neither sends nor gets credit this long ends (`limits.replayIdleMs`).
    /// ROUTER tells us a client has gone only when a send fails, and a replay
    /// without credit is never sent to: the ERROR 109 that ends an idle replay is
    /// that send. A live client learns its replay ended (CREDIT for it would be
    /// ignored); a gone one's replay is removed either way.
    var replayIdleNanoseconds: UInt64 { UInt64(max(1, configuration.limits.replayIdleMs)) * 1_000_000 }

    /// Starts (or restarts, for the same routing id and replay id) a replay. Returns
    /// the error reply when it cannot start.
    func startReplay(routingID: [UInt8], _ request: ReplayCodec.Request) -> [[UInt8]]? {
        let key = ReplaySession.Key(routingID: routingID, id: request.id)
        func failure(_ e: WireError, _ extra: [[UInt8]] = []) -> [[UInt8]] {
            IngestCodec.errorFrames(e, context: [request.id] + extra)
        }
        if let refusal = replays.refusal(for: key) { return failure(WireError(.unavailable, refusal)) }
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

    /// How long the loop may wait in poll for the replays' sake: 0 when one can
    /// make progress now, 5 ms when one waits for room in its client's queue (ZeroMQ
    /// does not say when there is room), no limit when all wait for CREDIT (which
    /// arrives as input) or there are none. Idle expiry rides on the heartbeat's wake-ups.
    var replayWaitMilliseconds: Int? {
        var blocked = false
        for s in replays.values {
            if s.hasWork { return 0 }
            if s.blocked { blocked = true }
        }
        return blocked ? 5 : nil
    }

    /// One bounded slice of every replay. Call after `endBatch()`.
    func pumpReplays() {
        guard !replays.isEmpty else { return }
        let head = journal.writtenSeq
        let now = clock()
        var finished: [ReplaySession.Key] = []
        for session in replays.values {
            // A parked replay waits for CREDIT: nothing to read, nothing held.
            var result: PumpResult = session.waitsForCredit ? .more : pump(session, head: head)
            if case .more = result, now > session.lastActivity, now - session.lastActivity > replayIdleNanoseconds {
                let idle = WireError(.unavailable, "replay idle for \(configuration.limits.replayIdleMs) ms: ended")
                result = .end(IngestCodec.errorFrames(idle, context: [session.key.id]))
            }
            switch result {
            case .more:
                break
            case .end(let frames):
                // CAUGHT-UP or ERROR closes the client's fill: at a full queue it
                // waits for the next turn like an event, it is never dropped.
                do {
                    if try consume.trySend(multipart: [session.key.routingID] + frames) {
                        finished.append(session.key)
                    } else {
                        session.ending = frames
                        session.blocked = true
                        session.cursor.release()
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

    private enum PumpResult {
        case more
        /// The replay ends with these frames (after the routing id).
        case end([[UInt8]])
        /// The client has disconnected.
        case gone
    }

    private func pump(_ session: ReplaySession, head: UInt64) -> PumpResult {
        if let ending = session.ending { return .end(ending) }
        let id = session.key.id
        let limit = session.limit(head: head)
        var scanned = 0, sent = 0
        session.blocked = false
        defer { if sent > 0 { session.lastActivity = clock() } }
        while scanned < Self.replayScansPerTurn && sent < Self.replaySendsPerTurn {
            if session.pending == nil {
                let step: JournalCursor.Step
                do {
                    step = try session.cursor.step(in: journal, upTo: limit)
                } catch {
                    // Never CAUGHT-UP: the client would take unread events for absent ones.
                    logger.error("replay read failed: \(error)")
                    return .end(
                        IngestCodec.errorFrames(
                            WireError(.internalError, "the journal could not be read; replay again"), context: [id]))
                }
                switch step {
                case .end:
                    return .end(ReplayCodec.caughtUpFrames(id: id, lastSeq: limit))
                case .lost(let first, let earliest):
                    logger.warning(
                        "replay reached seqs that retention removed",
                        metadata: ["first": "\(first)", "earliest": "\(earliest)"])
                    return .end(
                        IngestCodec.errorFrames(
                            WireError(.sequenceOutOfRange, "retention removed seqs \(first)-\(earliest - 1)"),
                            context: [id, BigEndian.bytes(earliest)]))
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
            let frames = [session.key.routingID] + ReplayCodec.eventFrames(id: id, event: event)
            do {
                guard try consume.trySend(multipart: frames) else {
                    session.blocked = true  // the client's queue is full: later
                    session.cursor.release()
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
