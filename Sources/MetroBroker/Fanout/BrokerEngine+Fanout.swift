import MetroProtocol
import ZeroMQ

/// Fire-and-forget publish (XSUB, protocol.md §4.3) and live fan-out (XPUB, §4.4).
/// Loop thread only.
extension BrokerEngine {
    // Slots of `publishBuffer`: 0 topic, 1 headers or payload, 2 payload; scratch 4 envelope.
    private static let pubEnvelope = 4
    static let clockEvery = 32

    /// Builds the envelope frame (§4.4) of an event in slot `into`.
    @inline(__always)
    func setEnvelope(
        _ buffer: MultipartBuffer, into slot: Int, seq: UInt64, time: UInt64,
        id: UnsafeRawBufferPointer, headers: UnsafeRawBufferPointer
    ) {
        buffer.set(slot, count: EventEnvelope.size(idCount: id.count, headersCount: headers.count)) {
            EventEnvelope.write(into: $0, seq: seq, time: time, id: id, headers: headers)
        }
    }

    /// Sends one event as its three frames (§4.4); topic and payload go zero-copy
    /// from `buffer`. XPUB never blocks: a subscriber at its high-water mark loses
    /// the event (ZeroMQ drops it for that subscriber only; the seq shows the gap).
    @inline(__always)
    func fanOut(_ buffer: MultipartBuffer, topic: Int, envelope: Int, payload: Int) throws {
        guard try buffer.send(topic, on: events, more: true) else {
            counters.drop(.eventsHighWaterMark)
            return
        }
        _ = try buffer.send(envelope, on: events, more: true)
        _ = try buffer.send(payload, on: events, more: false)
        counters.delivered &+= 1
    }

    /// Reads up to `batchLimit` fire-and-forget events without blocking. The clock
    /// is read once per `clockEvery` events (a vDSO call cost ~6% of the loop here):
    /// events read together within a few microseconds share a time.
    func drainPublish() throws {
        let buffer = publishBuffer
        var n = 0
        var now: UInt64 = 0
        while n < batchLimit, try buffer.receive(from: publish) {
            if n % Self.clockEvery == 0 { now = clock() }
            n += 1
            counters.received &+= 1
            if buffer.discardedFrames > 0 {
                counters.drop(.publishMalformed)
                continue
            }
            if let cause = PublishCodec.check(buffer, maxPayloadBytes: maxPayloadBytes) {
                switch cause {
                case .malformed: counters.drop(.publishMalformed)
                case .invalidTopic: counters.drop(.publishInvalidTopic)
                case .tooLarge: counters.drop(.publishTooLarge)
                }
                continue
            }
            let seq = nextSeq
            let payload = buffer.count - 1
            let noBytes = UnsafeRawBufferPointer(start: nil, count: 0)
            let headers = buffer.count == 3 ? buffer.unsafeFrame(1) : noBytes
            do throws(JournalError) {
                try reservation.ensure(seq)
                try journal.append(
                    seq: seq, time: now, id: noBytes, topic: buffer.unsafeFrame(0),
                    headers: headers, payload: buffer.unsafeFrame(payload))
            } catch {
                appendFailed(error)
                counters.drop(.publishJournalFailure)
                // After a failed sync nothing more is taken (§4.2.7).
                if storageFailure != nil { return }
                continue
            }
            nextSeq += 1
            counters.accepted &+= 1
            setEnvelope(buffer, into: Self.pubEnvelope, seq: seq, time: now, id: noBytes, headers: headers)
            try fanOut(buffer, topic: 0, envelope: Self.pubEnvelope, payload: payload)
        }
    }

    /// Reads subscription messages from the events socket: counts them, and answers
    /// a `$metro.hello.<token>` subscription with a hello event (§4.4.2).
    func drainSubscriptions() throws {
        let buffer = eventsBuffer
        var n = 0
        while n < batchLimit, try buffer.receive(from: events) {
            n += 1
            guard buffer.count == 1, buffer.size(0) >= 1 else { continue }
            let helloTopic: [UInt8]? = buffer.withFrame(0) { raw in
                if raw[0] == 1 { counters.subscriptions += 1 } else if raw[0] == 0 { counters.subscriptions -= 1 }
                return Hello.topic(inSubscription: raw)
            }
            if let helloTopic { try sendMarker(topic: helloTopic) }
        }
    }

    /// Publishes `$metro.heartbeat` with the head seq.
    func sendHeartbeat() throws {
        try sendMarker(topic: heartbeatTopic)
    }

    /// Sends `[topic][envelope: head seq, time, no id, no headers][""]` on the events socket.
    private func sendMarker(topic: [UInt8]) throws {
        let b = eventsBuffer
        // Slots 2...4 are scratch: topic, envelope, payload.
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        b.set(2, bytes: topic)
        setEnvelope(b, into: 3, seq: nextSeq - 1, time: clock(), id: none, headers: none)
        b.setEmpty(4)
        guard try b.send(2, on: events, more: true) else { return }
        _ = try b.send(3, on: events, more: true)
        _ = try b.send(4, on: events, more: false)
    }
}

let heartbeatTopic: [UInt8] = Array(Topic.heartbeat.utf8)
