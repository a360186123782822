import Logging
import MetroProtocol
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// The packed form of a replay (protocol.md §4.9.2): the matching journal records
/// are read with one `pread` per frame straight into the frame's own buffer
/// (`JournalCursor.readPacked` into a `FrameBuffer`), kept as they are (never
/// re-encoded, never copied again: ZeroMQ sends that buffer and frees it), in
/// EVENT-PACKED frames of at most `batchBytes` (one larger record goes alone).
/// Credit counts events, as in the per-event form: a frame holds at most the
/// credit left.
///
/// The broker checks each record's framing, not its checksum: the client checks
/// that (§4.9.2), end to end. Walking a frame's records is then a few loads per
/// record, and a replay runs at the speed of the socket rather than of a per-record
/// loop (docs/performance.md, "Replay at the speed of the socket").
///
/// Per loop turn a packed replay passes at most `scansPerTurn` records and sends
/// at most `packedBytesPerTurn` bytes of them, so live traffic keeps flowing.
extension ReplayScheduler {
    static let packedBytesPerTurn = 256 << 10

    func pumpPacked(_ session: ReplaySession, head: UInt64, clock: () -> UInt64) -> PumpResult {
        let id = session.key.id
        if var frame = session.pendingFrame.take() {
            switch send(&frame, session) {
            case .queued: break
            case .full:
                session.pendingFrame = consume frame
                session.blocked = true
                session.cursor.release()
                return .more
            case .gone: return .gone
            }
        }
        if let ending = session.ending { return .end(ending) }
        let batchBytes = session.batchBytes ?? ReplayCodec.defaultBatchBytes
        let limit = session.limit(head: head)
        let notBefore = session.notBefore
        let prefixes = session.request.prefixes
        session.blocked = false
        var scanned = 0, taken = 0, sentAny = false
        defer { if sentAny { session.lastActivity = clock() } }
        let building = FrameInProgress()

        /// Sends the frame filled so far; a result when the replay cannot go on this turn.
        func flush() -> PumpResult? {
            guard building.events > 0 else { return nil }
            taken += building.filled
            var frame = building.take { countTopics($0) }
            switch send(&frame, session) {
            case .queued:
                sentAny = true
                return nil
            case .full:  // the client's queue is full: keep the frame, not the descriptor
                session.pendingFrame = consume frame
                session.blocked = true
                session.cursor.release()
                return .more
            case .gone:
                return .gone
            }
        }
        /// Ends with `reply` once the records read before it are sent.
        func finish(_ reply: ReplayCodec.Reply) -> PumpResult {
            guard let r = flush() else { return .end(reply) }
            if case .more = r { session.ending = reply }
            return r
        }

        while scanned < Self.scansPerTurn && taken < Self.packedBytesPerTurn {
            let space = building.space(capacity: batchBytes)
            let step: JournalCursor.PackedStep
            do {
                step = try session.cursor.readPacked(
                    in: journal, upTo: limit, into: space,
                    maxEvents: Int(min(session.credit - UInt64(building.events), UInt64(Int.max)))
                ) { record in
                    JournalRecord.time(of: record) >= notBefore
                        && Self.matches(prefixes, JournalRecord.topic(in: record))
                }
            } catch {
                return finish(readFailure(error, session))
            }
            switch step {
            case .end:
                return finish(.caughtUp(id: id, lastSeq: limit))
            case .lost(let first, let earliest):
                logger.warning(
                    "replay reached seqs that retention removed",
                    metadata: ["first": "\(first)", "earliest": "\(earliest)"])
                let e = WireError(.sequenceOutOfRange, "retention removed seqs \(first)-\(earliest - 1)")
                return finish(.error(e, id: id, seq: earliest))
            case .needs(let bytes):
                if building.events > 0 {  // it starts the next frame
                    if let r = flush() { return r }
                } else {  // a record larger than `batchBytes` goes alone
                    _ = building.space(capacity: bytes)
                }
            case .records(let bytes, let events, let passed, let heldBack):
                scanned += passed
                building.add(bytes: bytes, events: events)
                if events > 0 { session.parked = false }
                guard heldBack else { continue }
                // No credit left for the next matching record: send, then wait for CREDIT.
                if let r = flush() { return r }
                if session.credit == 0 {
                    session.cursor.release()  // keep only the position (§4.9, "Cost")
                    session.parked = true
                    return .more
                }
            }
        }
        return flush() ?? .more
    }

    /// Counts the topics of the records in `raw` out, a run of one topic at a
    /// time (a replay's records mostly share their topic).
    private func countTopics(_ raw: UnsafeRawBufferPointer) {
        let count = raw.count
        var at = 0
        var run: (topic: UnsafeRawBufferPointer, count: UInt64)? = nil
        while at < count {
            let size = 8 + Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
            let topic = JournalRecord.topic(in: UnsafeRawBufferPointer(rebasing: raw[at..<(at + size)]))
            if let r = run, r.topic.count == topic.count,
                memcmp(r.topic.baseAddress!, topic.baseAddress!, topic.count) == 0
            {
                run!.count += 1
            } else {
                if let r = run { counters.topics.countOut(raw: r.topic, count: r.count) }
                run = (topic, 1)
            }
            at += size
        }
        if let r = run { counters.topics.countOut(raw: r.topic, count: r.count) }
    }

    /// Sends one EVENT-PACKED; credit and counters move only once it is queued.
    private func send(_ frame: inout PackedFrame, _ session: ReplaySession) -> ConsumeSender.Outcome {
        let outcome = sender.sendPacked(id: session.key.id, records: &frame.message, to: session.key.routingID)
        if outcome == .queued {
            session.credit -= UInt64(frame.events)
            counters.replayed &+= UInt64(frame.events)
        }
        return outcome
    }

    /// Whether `topic` starts with one of `prefixes` (or there are none), on the raw bytes.
    @inline(__always)
    static func matches(_ prefixes: [[UInt8]], _ topic: UnsafeRawBufferPointer) -> Bool {
        if prefixes.isEmpty { return true }
        for p in prefixes where p.count <= topic.count {
            if p.isEmpty { return true }
            if p.withUnsafeBytes({ memcmp($0.baseAddress!, topic.baseAddress!, p.count) }) == 0 { return true }
        }
        return false
    }
}

/// The EVENT-PACKED frame a packed replay is filling: its buffer (allocated when
/// the first record is read into it), and the bytes and events in it so far.
private final class FrameInProgress {
    private var buffer: FrameBuffer?
    /// `buffer`'s bytes (empty without one).
    private var bytes = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private(set) var filled = 0
    private(set) var events = 0

    /// The free bytes of the frame, in a new buffer of `capacity` when there is
    /// none yet or when the frame is empty and needs more room than it has.
    func space(capacity: Int) -> UnsafeMutableRawBufferPointer {
        if buffer == nil || (events == 0 && bytes.count < capacity) {
            let fresh = FrameBuffer(capacity: capacity)
            bytes = fresh.bytes
            buffer = consume fresh
            filled = 0
        }
        return UnsafeMutableRawBufferPointer(rebasing: bytes[filled...])
    }

    func add(bytes: Int, events: Int) {
        filled += bytes
        self.events += events
    }

    /// The frame, its records first shown to `inspect`; the next one starts empty.
    func take(_ inspect: (UnsafeRawBufferPointer) -> Void) -> PackedFrame {
        inspect(UnsafeRawBufferPointer(rebasing: bytes[..<filled]))
        let full = buffer.take()!
        let frame = PackedFrame(message: full.message(count: filled), events: events)
        bytes = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        (filled, events) = (0, 0)
        return frame
    }
}
