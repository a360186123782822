import Logging
import MetroProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// The packed form of a replay (protocol.md §4.9.2): the matching journal records
/// are copied as they are from the cursor's chunk into EVENT-PACKED frames of at
/// most `batchBytes` (one larger record goes alone), never re-encoded. Credit
/// counts events, as in the per-event form: a frame holds at most the credit left.
///
/// Per loop turn a packed replay reads at most `scansPerTurn` records and sends at
/// most `packedBytesPerTurn` bytes of them, so live traffic keeps flowing.
extension ReplayScheduler {
    static let packedBytesPerTurn = 256 << 10

    /// A batch built and not yet sent: its records and how many events they are.
    typealias Batch = (records: [UInt8], events: Int)

    func pumpPacked(_ session: ReplaySession, head: UInt64, clock: () -> UInt64) -> PumpResult {
        let id = session.key.id
        if let batch = session.pendingBatch {
            switch send(batch, session) {
            case .queued: session.pendingBatch = nil
            case .full:
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
        var batch: Batch = ([], 0)
        defer { if sentAny { session.lastActivity = clock() } }

        /// Sends the batch built so far; a result when the replay cannot go on this turn.
        func flush() -> PumpResult? {
            guard batch.events > 0 else { return nil }
            let out = batch
            batch = ([], 0)
            switch send(out, session) {
            case .queued:
                sentAny = true
                return nil
            case .full:  // the client's queue is full: keep the batch, not the chunk
                session.pendingBatch = out
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
            let step: JournalCursor.RawStep
            do {
                step = try session.cursor.stepRaw(in: journal, upTo: limit)
            } catch {
                logger.error("replay read failed: \(error)")
                let e = WireError(.internalError, "the journal could not be read; replay again")
                return finish(.error(e, id: id, earliest: nil))
            }
            switch step {
            case .end:
                return finish(.caughtUp(id: id, lastSeq: limit))
            case .lost(let first, let earliest):
                logger.warning(
                    "replay reached seqs that retention removed",
                    metadata: ["first": "\(first)", "earliest": "\(earliest)"])
                let e = WireError(.sequenceOutOfRange, "retention removed seqs \(first)-\(earliest - 1)")
                return finish(.error(e, id: id, earliest: earliest))
            case .record(_, let time, let size):
                scanned += 1
                guard time >= notBefore,
                    session.cursor.withLastRecord({ Self.matches(prefixes, JournalRecord.topic(in: $0)) })
                else { continue }
                if UInt64(batch.events) >= session.credit {
                    // No credit left for this one: read it again later.
                    session.cursor.rewind()
                    guard batch.events > 0 else {
                        session.cursor.release()  // keep only the position (§4.9, "Cost")
                        session.parked = true
                        return .more
                    }
                    if let r = flush() { return r }
                    continue
                }
                if batch.events > 0 && batch.records.count + size > batchBytes {
                    session.cursor.rewind()  // it starts the next frame
                    if let r = flush() { return r }
                    continue
                }
                session.parked = false
                if batch.events == 0 { batch.records.reserveCapacity(max(batchBytes, size)) }
                session.cursor.withLastRecord { raw in
                    batch.records.append(contentsOf: raw)
                    counters.topics.countOut(raw: JournalRecord.topic(in: raw))
                }
                batch.events += 1
                taken += size
            }
        }
        return flush() ?? .more
    }

    /// Sends one EVENT-PACKED; credit and counters move only once it is queued.
    private func send(_ batch: Batch, _ session: ReplaySession) -> ConsumeSender.Outcome {
        let outcome = sender.send(
            .replay(.packed(id: session.key.id, records: batch.records)), to: session.key.routingID)
        if outcome == .queued {
            session.credit -= UInt64(batch.events)
            counters.replayed &+= UInt64(batch.events)
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
