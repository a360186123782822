import MetroProtocol
import ZeroMQ

extension MultipartBuffer: FrameSequence {
    public var frameCount: Int { count }
}

/// Acknowledged publish on the ingest socket (protocol.md §4.2). Loop thread only.
extension BrokerEngine {
    // Slots of `ingestBuffer`: 0 routing id, 1 version, 2 command, 3 id, 4 topic,
    // 5 headers, 6 payload; scratch 8 (the event's envelope).
    private static let envelopeSlot = 8

    /// Reads up to `batchLimit` requests without blocking.
    func drainIngest() throws {
        let buffer = ingestBuffer
        var n = 0
        while n < batchLimit, try buffer.receive(from: ingest) {
            n += 1
            counters.received &+= 1
            if buffer.discardedFrames > 0 {
                reject(WireError(.malformedMessage, "too many frames"), eventIDFrame: nil)
                continue
            }
            switch IngestCodec.decide(buffer, offset: 1, maxPayloadBytes: maxPayloadBytes) {
            case .reject(let error, let idFrame):
                reject(error, eventIDFrame: idFrame)
            case .publish:
                try accept()
            }
        }
    }

    private func accept() throws {
        let buffer = ingestBuffer
        let now = clock()
        let eventID = buffer.bytes(3)
        if let seq = dedupe.lookup(eventID, now: now) {
            counters.deduplicated &+= 1
            // Its original is durable (ACK now), in a requested flush, or in this batch.
            let ack = PendingAck(routingID: buffer.bytes(0), eventID: eventID, seq: seq)
            if acks.duplicate(ack, seq: seq) { sendAck(ack) }
            return
        }
        let seq = nextSeq
        do {
            try reservation.ensure(seq)
            try journal.append(
                seq: seq, time: now, id: buffer.unsafeFrame(3), topic: buffer.unsafeFrame(4),
                headers: buffer.unsafeFrame(5), payload: buffer.unsafeFrame(6))
        } catch {
            logger.error("journal append failed: \(error)")
            reject(WireError(.journalFailure, "the journal could not store the event"), eventIDFrame: 3)
            return
        }
        nextSeq += 1
        counters.accepted &+= 1
        dedupe.insert(eventID, seq: seq, time: now)
        acks.waitForNextFlush(PendingAck(routingID: buffer.bytes(0), eventID: eventID, seq: seq))
        setEnvelope(
            buffer, into: Self.envelopeSlot, seq: seq, time: now, id: buffer.unsafeFrame(3),
            headers: buffer.unsafeFrame(5))
        try fanOut(buffer, topic: 4, envelope: Self.envelopeSlot, payload: 6)
    }

    /// Sends the ACKs whose flush the syncer reported durable.
    func sendDurableAcks() {
        guard let syncer else { return }
        sendAcks(upTo: syncer.durableToken)
    }

    /// Sends every queued ACK whose flush token is at most `token`.
    func sendAcks(upTo token: UInt64) {
        for ack in acks.durable(upTo: token) { sendAck(ack) }
    }

    /// After a journal write failure: every queued ACK becomes ERROR 201.
    func failPendingAcks() {
        let wire = WireError(.journalFailure, "the journal could not store the event")
        for ack in acks.failAll() {
            send(
                to: ingest, [ack.routingID] + IngestCodec.errorFrames(wire, context: [ack.eventID]),
                onDrop: .ackUnroutable)
            counters.rejected &+= 1
        }
    }

    private func sendAck(_ ack: PendingAck) {
        if send(
            to: ingest, [ack.routingID] + IngestCodec.ackFrames(eventID: ack.eventID, seq: ack.seq),
            onDrop: .ackUnroutable)
        {
            counters.acked &+= 1
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
