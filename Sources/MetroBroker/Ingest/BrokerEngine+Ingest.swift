import MetroProtocol
import ZeroMQ

extension MultipartBuffer: FrameSequence {
    public var frameCount: Int { count }
}

/// Acknowledged publish on the ingest socket (protocol.md §4.2). Loop thread only.
extension BrokerEngine {
    // Slots of `ingestBuffer`: 0 routing id, 1 version, 2 command, then four per
    // event (id, topic, headers, payload) from 3; one scratch slot after them
    // (the event's envelope).
    static let ingestCapacity = 3 + 4 * IngestCodec.maxEventsPerPublish
    private static let envelopeSlot = ingestCapacity

    /// Reads up to `batchLimit` requests without blocking.
    func drainIngest() throws {
        let buffer = ingestBuffer
        var n = 0
        var now: UInt64 = 0
        while n < batchLimit, try buffer.receive(from: ingest) {
            if n % Self.clockEvery == 0 { now = clock() }
            n += 1
            counters.received &+= 1
            if buffer.discardedFrames > 0 {
                reject(WireError(.malformedMessage, "too many frames"), eventIDFrame: nil)
                continue
            }
            switch IngestCodec.decide(buffer, offset: 1, maxPayloadBytes: maxPayloadBytes) {
            case .reject(let error, let idFrame):
                reject(error, eventIDFrame: idFrame)
            case .publish(let events):
                // Events of one batch may share ACK messages: they carry its number.
                let batch: UInt64
                if events > 1 {
                    lastBatch &+= 1
                    batch = lastBatch
                } else {
                    batch = 0
                }
                for k in 0..<events {
                    let idFrame = 3 + 4 * k
                    if case .reject(let error, let echo)? = IngestCodec.checkEvent(
                        buffer, at: idFrame, maxPayloadBytes: maxPayloadBytes)
                    {
                        reject(error, eventIDFrame: echo)
                    } else {
                        try accept(now: now, idFrame: idFrame, batch: batch)
                    }
                }
            }
        }
    }

    /// Stores (or deduplicates) the event whose frames start at `idFrame`.
    private func accept(now: UInt64, idFrame: Int, batch: UInt64) throws {
        let buffer = ingestBuffer
        let routing = buffer.unsafeFrame(0)
        let eventID = buffer.unsafeFrame(idFrame)
        let key = DedupeWindow.Key(eventID)
        let attachment = AckLedger<PendingAck>.Attachment(routing, eventID)
        if let seq = dedupe.lookup(key, now: now) {
            counters.deduplicated &+= 1
            // Its original is durable (ACK now), in a requested flush, or in this batch.
            let ack = PendingAck(seq: seq, routingCount: routing.count, batch: batch)
            // Queued otherwise: behind a flush requested with a wake (its original's
            // own ACK waited on it), or in this batch.
            if acks.duplicate(ack, seq: seq, attaching: attachment) {
                sendAck(seq: seq, routing: routing, eventID: eventID)
            }
            return
        }
        let seq = nextSeq
        do {
            try reservation.ensure(seq)
            try journal.append(
                seq: seq, time: now, id: eventID, topic: buffer.unsafeFrame(idFrame + 1),
                headers: buffer.unsafeFrame(idFrame + 2), payload: buffer.unsafeFrame(idFrame + 3))
        } catch {
            logger.error("journal append failed: \(error)")
            reject(WireError(.journalFailure, "the journal could not store the event"), eventIDFrame: idFrame)
            return
        }
        nextSeq += 1
        counters.accepted &+= 1
        dedupe.insert(key, seq: seq, time: now)
        acks.waitForNextFlush(PendingAck(seq: seq, routingCount: routing.count, batch: batch), attaching: attachment)
        setEnvelope(
            buffer, into: Self.envelopeSlot, seq: seq, time: now, id: eventID, headers: buffer.unsafeFrame(idFrame + 2))
        try fanOut(buffer, topic: idFrame + 1, envelope: Self.envelopeSlot, payload: idFrame + 3)
    }

    /// Sends the ACKs whose flush the syncer reported durable.
    func sendDurableAcks() {
        guard let syncer else { return }
        sendAcks(upTo: syncer.durableToken)
    }

    /// Sends every queued ACK whose flush token is at most `token`. Consecutive
    /// ACKs of one batch (§4.2.1) share a message: each pair's seq frame is held
    /// back until the next ACK shows whether the message goes on.
    func sendAcks(upTo token: UInt64) {
        var writer = AckWriter()
        acks.durable(upTo: token) { ack, bytes in
            let routing = UnsafeRawBufferPointer(rebasing: bytes[..<ack.routingCount])
            let eventID = UnsafeRawBufferPointer(rebasing: bytes[ack.routingCount...])
            writer.add(seq: ack.seq, batch: ack.batch, routing: routing, eventID: eventID, engine: self)
        }
        writer.finish(engine: self)
    }

    /// After a journal write failure: every queued ACK becomes ERROR 201.
    func failPendingAcks() {
        let wire = WireError(.journalFailure, "the journal could not store the event")
        acks.failAll { ack, bytes in
            let routing = [UInt8](bytes[..<ack.routingCount])
            let eventID = [UInt8](bytes[ack.routingCount...])
            send(to: ingest, [routing] + IngestCodec.errorFrames(wire, context: [eventID]), onDrop: .ackUnroutable)
            counters.rejected &+= 1
        }
    }

    /// Sends `[routing]["metro/1"]["ACK"][id][seq]` (§4.2) straight from the
    /// buffers, without building arrays: this runs once per acknowledged event.
    func sendAck(seq: UInt64, routing: UnsafeRawBufferPointer, eventID: UnsafeRawBufferPointer) {
        guard startAck(routing: routing) else { return }
        sendPair(seq: seq, eventID: eventID, last: true)
    }

    /// Queues the head of an ACK to `routing`: `false` (counted) if it cannot go.
    func startAck(routing: UnsafeRawBufferPointer) -> Bool {
        do {
            guard try ingest.trySend(routing, flags: .more) else {
                counters.drop(.ackHighWaterMark)
                return false
            }
            // Once the first frame is queued, the rest of the message is accepted.
            try ingest.send(AckFrames.version, flags: .more)
            try ingest.send(AckFrames.command, flags: .more)
            return true
        } catch {
            counters.drop(.ackUnroutable)
            return false
        }
    }

    /// One (id, seq) pair of a started ACK; `last` ends the message.
    func sendPair(seq: UInt64, eventID: UnsafeRawBufferPointer, last: Bool) {
        do {
            try ingest.send(eventID, flags: .more)
            var big = seq.bigEndian
            try withUnsafeBytes(of: &big) { (raw) throws(ZMQError) in try ingest.send(raw, flags: last ? [] : .more) }
            counters.acked &+= 1
        } catch {
            counters.drop(.ackUnroutable)
        }
    }

    /// Answers the request in `ingestBuffer` with ERROR (§3.1).
    private func reject(_ error: WireError, eventIDFrame: Int?) {
        counters.rejected &+= 1
        let context = eventIDFrame.map { [ingestBuffer.bytes($0)] } ?? []
        send(
            to: ingest, [ingestBuffer.bytes(0)] + IngestCodec.errorFrames(error, context: context),
            onDrop: .replyUnroutable)
    }

    /// Sends a reply on a ROUTER without blocking; counts it as dropped if the peer
    /// is gone or its queue is full. Returns whether it was queued.
    @discardableResult
    func send(to socket: Socket, _ frames: [[UInt8]], onDrop cause: BrokerCounters.DropCause) -> Bool {
        do {
            if try socket.trySend(multipart: frames) { return true }
            counters.drop(cause == .ackUnroutable ? .ackHighWaterMark : cause)
        } catch {
            counters.drop(cause)
        }
        return false
    }
}

/// The constant frames of an ACK, as raw bytes that live as long as the process.
enum AckFrames {
    nonisolated(unsafe) static let version = constant(WireProtocol.versionBytes)
    nonisolated(unsafe) static let command = constant(IngestCodec.ackCommand)

    private static func constant(_ bytes: [UInt8]) -> UnsafeRawBufferPointer {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        storage.copyBytes(from: bytes)
        return UnsafeRawBufferPointer(storage)
    }
}

/// Groups consecutive ACKs of one batch into one message (§4.2.1). The pair in
/// hand is sent when the next ACK arrives (more frames follow if it belongs to
/// the same batch) or at `finish`; its event id is copied because the ledger's
/// bytes are only lent for the visit.
struct AckWriter {
    private var open = false
    private var openBatch: UInt64 = 0
    private var heldSeq: UInt64 = 0
    private var heldID: [UInt8] = []
    private var hasHeld = false

    mutating func add(
        seq: UInt64, batch: UInt64, routing: UnsafeRawBufferPointer, eventID: UnsafeRawBufferPointer,
        engine: BrokerEngine
    ) {
        let continues = open && batch != 0 && batch == openBatch
        if hasHeld { sendHeld(last: !continues, engine: engine) }
        if !continues {
            open = engine.startAck(routing: routing)
            openBatch = batch
        }
        guard open else { return }
        heldSeq = seq
        heldID.removeAll(keepingCapacity: true)
        heldID.append(contentsOf: eventID)
        hasHeld = true
    }

    mutating func finish(engine: BrokerEngine) {
        if hasHeld { sendHeld(last: true, engine: engine) }
        open = false
    }

    private mutating func sendHeld(last: Bool, engine: BrokerEngine) {
        heldID.withUnsafeBytes { engine.sendPair(seq: heldSeq, eventID: $0, last: last) }
        hasHeld = false
        if last { open = false }
    }
}
