package import MetroProtocol
package import ZeroMQ

extension MultipartBuffer: FrameSequence {
    package var frameCount: Int { count }
}

/// Acknowledged publish on the ingest socket (protocol.md §4.2). Loop thread only.
extension BrokerEngine {
    // Slots of `ingestBuffer`: 0 routing id, 1 version, 2 command, then four per
    // event (id, topic, headers, payload) from 3, or the packed events frame at 3;
    // scratch slots after them: the event's envelope, and copies of a packed
    // event's topic and payload for fan-out.
    static let ingestCapacity = 3 + 4 * IngestCodec.maxEventsPerPublish
    static let ingestScratch = 3
    private static let envelopeSlot = ingestCapacity
    private static let packedTopicSlot = ingestCapacity + 1
    private static let packedPayloadSlot = ingestCapacity + 2

    /// Reads up to `batchLimit` requests without blocking.
    func drainIngest() throws {
        let buffer = ingestBuffer
        var n = 0
        var now: UInt64 = 0
        while n < batchLimit, try buffer.receive(from: ingest) {
            if n % Self.clockEvery == 0 { now = clock() }
            n += 1
            counters.received &+= 1
            // A request with more frames than the buffer holds is answered by the codec
            // like any other (101 with its id as context, §4.2.1): it never reaches `.publish`.
            switch IngestCodec.decide(
                buffer, offset: 1, maxPayloadBytes: maxPayloadBytes, discardedFrames: buffer.discardedFrames)
            {
            case .reject(let error, let idFrame):
                reject(error, eventIDFrame: idFrame)
            case .publish(let events):
                // With CURVE on, who sent it (§7.8): read once per message.
                let grant = permissions?.grant(buffer, frame: 1)
                // Events of one batch may share ACK messages: they carry its number.
                let ack = PendingAck(seq: 0, routingCount: buffer.size(0), batch: events > 1 ? newBatch() : 0)
                let keys = dedupeKeys(count: events) { buffer.unsafeFrame(3 + 4 * $0) }
                for k in 0..<events {
                    let idFrame = 3 + 4 * k
                    if case .reject(let error, let echo)? = IngestCodec.checkEvent(
                        buffer, at: idFrame, maxPayloadBytes: maxPayloadBytes)
                    {
                        reject(error, eventIDFrame: echo)
                        continue
                    }
                    if let grant, !BrokerPermissions.mayPublish(grant, topic: buffer.unsafeFrame(idFrame + 1)) {
                        let error = permissions!.deniedPublish(grant, topic: buffer.unsafeFrame(idFrame + 1))
                        reject(error, eventIDFrame: idFrame)
                        continue
                    }
                    accept(
                        now: now, id: buffer.unsafeFrame(idFrame), key: keys[k], topic: buffer.unsafeFrame(idFrame + 1),
                        headers: buffer.unsafeFrame(idFrame + 2), payload: buffer.unsafeFrame(idFrame + 3),
                        ack: ack, frames: (idFrame + 1, idFrame + 3))
                }
            case .publishPacked(let events):
                // Always a batch: its ACKs travel packed, as many per message as possible.
                var ack = PendingAck(seq: 0, routingCount: buffer.size(0), batch: newBatch())
                ack.packed = true
                let grant = permissions?.grant(buffer, frame: 1)
                let frame = buffer.unsafeFrame(3)
                var ids = PackedEvents.Iterator(frame)
                let keys = dedupeKeys(count: events) { _ in ids.next()!.id }
                var iterator = PackedEvents.Iterator(frame)
                for k in 0..<events {
                    let e = iterator.next()!
                    if let error = IngestCodec.checkEvent(
                        id: e.id, topic: e.topic, headersCount: e.headers.count, payloadCount: e.payload.count,
                        maxPayloadBytes: maxPayloadBytes)
                    {
                        reject(error, echo: IngestCodec.echoesID(idLength: e.id.count) ? [UInt8](e.id) : nil)
                        continue
                    }
                    if let grant, !BrokerPermissions.mayPublish(grant, topic: e.topic) {
                        reject(permissions!.deniedPublish(grant, topic: e.topic), echo: [UInt8](e.id))
                        continue
                    }
                    accept(
                        now: now, id: e.id, key: keys[k], topic: e.topic, headers: e.headers, payload: e.payload,
                        ack: ack, frames: nil)
                }
            }
        }
    }

    /// The dedupe keys of a request's `count` events (`id(k)` is event k's id), with
    /// their table slots read ahead in one pass (`DedupeWindow.warm`). Reuses one
    /// buffer: valid until the next call.
    private func dedupeKeys(
        count: Int, _ id: (Int) -> UnsafeRawBufferPointer
    ) -> UnsafeMutableBufferPointer<DedupeWindow.Key> {
        let keys = UnsafeMutableBufferPointer(rebasing: requestKeys[0..<count])
        for k in 0..<count { keys[k] = DedupeWindow.Key(id(k)) }
        warmSink ^= dedupe.warm(UnsafeBufferPointer(keys))
        return keys
    }

    private func newBatch() -> UInt64 {
        lastBatch &+= 1
        return lastBatch
    }

    /// Stores (or deduplicates) one checked event of the request in `ingestBuffer`.
    /// `ack` carries its batch and form; `frames` are the slots of its topic and
    /// payload when it came framed (fanned out zero-copy), nil when packed (copied).
    private func accept(
        now: UInt64, id eventID: UnsafeRawBufferPointer, key: DedupeWindow.Key, topic: UnsafeRawBufferPointer,
        headers: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, ack template: PendingAck,
        frames: (topic: Int, payload: Int)?
    ) {
        let buffer = ingestBuffer
        if storageFailure != nil {
            // A sync failed earlier in this drain: nothing more is taken (§4.2.7).
            reject(WireError(.storageFailure, "the broker's disk failed to sync: not stored"), echo: [UInt8](eventID))
            return
        }
        let routing = buffer.unsafeFrame(0)
        let attachment = AckLedger<PendingAck>.Attachment(routing, eventID)
        var ack = template
        if let seq = dedupe.lookup(key, now: now) {
            counters.deduplicated &+= 1
            ack.seq = seq
            // Its original is durable (ACK now), or queued behind the flush that
            // holds it (requested with a wake when the original was queued), or in
            // this batch.
            if acks.duplicate(ack, seq: seq, attaching: attachment) {
                var writer = AckWriter()
                writer.add(ack, routing: routing, eventID: eventID, replies: ingestReplies)
                writer.finish(replies: ingestReplies)
            }
            return
        }
        if frames == nil {
            // Packed: its topic and payload are copied into frames of their own for fan-out.
            buffer.set(Self.packedTopicSlot, bytes: topic)
            buffer.set(Self.packedPayloadSlot, bytes: payload)
        }
        let slots = frames ?? (Self.packedTopicSlot, Self.packedPayloadSlot)
        let seq: UInt64
        do throws(JournalError) {
            seq = try log.append(
                buffer, topic: slots.topic, payload: slots.payload, envelope: Self.envelopeSlot, time: now,
                id: eventID, headers: headers)
        } catch {
            appendFailed(error)
            reject(
                WireError(.storageFailure, "the broker's disk refused the event: not stored"), echo: [UInt8](eventID))
            return
        }
        dedupe.insert(key, seq: seq, time: now)
        ack.seq = seq
        acks.waitForNextFlush(ack, attaching: attachment)
    }

    /// Sends the ACKs whose flush the syncer reported durable.
    /// A failed sync is noticed here (the syncer's wake): then no ACK goes, ever.
    func sendDurableAcks() {
        guard let syncer else { return }
        if let failure = syncer.failure { return failStorage(failure) }
        sendAcks(upTo: syncer.durableToken)
    }

    /// Sends every queued ACK whose flush token is at most `token`. Consecutive
    /// ACKs of one batch (§4.2.1) share a message: each pair's seq frame is held
    /// back until the next ACK shows whether the message goes on.
    func sendAcks(upTo token: UInt64) {
        guard storageFailure == nil else { return }
        var writer = AckWriter()
        acks.durable(upTo: token) { ack, bytes in
            let routing = UnsafeRawBufferPointer(rebasing: bytes[..<ack.routingCount])
            let eventID = UnsafeRawBufferPointer(rebasing: bytes[ack.routingCount...])
            writer.add(ack, routing: routing, eventID: eventID, replies: ingestReplies)
        }
        writer.finish(replies: ingestReplies)
    }

    /// After a storage failure (`BrokerEngine+Storage`): every queued ACK becomes `wire`.
    func failPendingAcks(_ wire: WireError) {
        acks.failAll { ack, bytes in
            ingestReplies.reject(
                wire, eventID: [UInt8](bytes[ack.routingCount...]), routing: [UInt8](bytes[..<ack.routingCount]),
                onDrop: .ackUnroutable)
        }
    }

    /// Answers the request in `ingestBuffer` with ERROR (§3.1).
    private func reject(_ error: WireError, eventIDFrame: Int?) {
        reject(error, echo: eventIDFrame.map { ingestBuffer.bytes($0) })
    }

    /// Answers with ERROR, with `echo` (an event id) as its context frame.
    private func reject(_ error: WireError, echo: [UInt8]?) {
        ingestReplies.reject(error, eventID: echo, routing: ingestBuffer.bytes(0), onDrop: .replyUnroutable)
    }
}
