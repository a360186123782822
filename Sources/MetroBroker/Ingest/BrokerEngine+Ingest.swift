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
            case .publish:
                try accept(now: now)
            }
        }
    }

    private func accept(now: UInt64) throws {
        let buffer = ingestBuffer
        let routing = buffer.unsafeFrame(0)
        let eventID = buffer.unsafeFrame(3)
        let key = DedupeWindow.Key(eventID)
        let attachment = AckLedger<PendingAck>.Attachment(routing, eventID)
        if let seq = dedupe.lookup(key, now: now) {
            counters.deduplicated &+= 1
            // Its original is durable (ACK now), in a requested flush, or in this batch.
            let ack = PendingAck(seq: seq, routingCount: routing.count)
            if acks.duplicate(ack, seq: seq, attaching: attachment) {
                sendAck(seq: seq, routing: routing, eventID: eventID)
            } else {
                // Its original's flush was requested with a wake (the original's own ACK
                // waited on it), so this is belt and braces: the syncer wakes the loop
                // for a requested token even if it is already durable.
                syncer?.request(
                    token: acks.flushToken, dataFD: journal.activeDataFD, indexFD: journal.activeIndexFD, notify: true)
            }
            return
        }
        let seq = nextSeq
        do {
            try reservation.ensure(seq)
            try journal.append(
                seq: seq, time: now, id: eventID, topic: buffer.unsafeFrame(4),
                headers: buffer.unsafeFrame(5), payload: buffer.unsafeFrame(6))
        } catch {
            logger.error("journal append failed: \(error)")
            reject(WireError(.journalFailure, "the journal could not store the event"), eventIDFrame: 3)
            return
        }
        nextSeq += 1
        counters.accepted &+= 1
        dedupe.insert(key, seq: seq, time: now)
        acks.waitForNextFlush(PendingAck(seq: seq, routingCount: routing.count), attaching: attachment)
        setEnvelope(
            buffer, into: Self.envelopeSlot, seq: seq, time: now, id: eventID, headers: buffer.unsafeFrame(5))
        try fanOut(buffer, topic: 4, envelope: Self.envelopeSlot, payload: 6)
    }

    /// Sends the ACKs whose flush the syncer reported durable.
    func sendDurableAcks() {
        guard let syncer else { return }
        sendAcks(upTo: syncer.durableToken)
    }

    /// Sends every queued ACK whose flush token is at most `token`.
    func sendAcks(upTo token: UInt64) {
        acks.durable(upTo: token) { ack, bytes in
            sendAck(
                seq: ack.seq, routing: UnsafeRawBufferPointer(rebasing: bytes[..<ack.routingCount]),
                eventID: UnsafeRawBufferPointer(rebasing: bytes[ack.routingCount...]))
        }
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
    private func sendAck(seq: UInt64, routing: UnsafeRawBufferPointer, eventID: UnsafeRawBufferPointer) {
        do {
            guard try ingest.trySend(routing, flags: .more) else {
                counters.drop(.ackHighWaterMark)
                return
            }
            // Once the first frame is queued, the rest of the message is accepted.
            try ingest.send(AckFrames.version, flags: .more)
            try ingest.send(AckFrames.command, flags: .more)
            try ingest.send(eventID, flags: .more)
            var big = seq.bigEndian
            try withUnsafeBytes(of: &big) { (raw) throws(ZMQError) in try ingest.send(raw, flags: []) }
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
