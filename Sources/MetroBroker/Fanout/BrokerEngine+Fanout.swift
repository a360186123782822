import MetroProtocol
import ZeroMQ

/// Fire-and-forget publish (XSUB, protocol.md §4.3) and live fan-out (XPUB, §4.4).
/// Loop thread only.
extension BrokerEngine {
    // Slots of `publishBuffer`: 0 topic, 1 headers or payload, 2 payload;
    // scratch 4 seq, 5 time, 6 empty id, 7 empty headers.
    private static let pubSeq = 4, pubTime = 5, pubID = 6, pubHeaders = 7

    /// Sends one event as its six frames (§4.4), each slot zero-copy from `buffer`.
    /// XPUB never blocks: a subscriber at its high-water mark loses the event
    /// (ZeroMQ drops it for that subscriber only; the seq shows the gap).
    @inline(__always)
    func fanOut(_ buffer: MultipartBuffer, topic: Int, seq: Int, time: Int, id: Int, headers: Int, payload: Int) throws
    {
        guard try buffer.send(topic, on: events, more: true) else {
            counters.drop(.eventsHighWaterMark)
            return
        }
        _ = try buffer.send(seq, on: events, more: true)
        _ = try buffer.send(time, on: events, more: true)
        _ = try buffer.send(id, on: events, more: true)
        _ = try buffer.send(headers, on: events, more: true)
        _ = try buffer.send(payload, on: events, more: false)
        counters.delivered &+= 1
    }

    /// Reads up to `batchLimit` fire-and-forget events without blocking.
    func drainPublish() throws {
        let buffer = publishBuffer
        var n = 0
        while n < batchLimit, try buffer.receive(from: publish) {
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
            let now = clock()
            let payload = buffer.count - 1
            let headers = buffer.count == 3 ? 1 : Self.pubHeaders
            if headers == Self.pubHeaders { buffer.setEmpty(Self.pubHeaders) }
            buffer.setEmpty(Self.pubID)
            do {
                try reservation.ensure(seq)
                try journal.append(
                    seq: seq, time: now, id: buffer.unsafeFrame(Self.pubID), topic: buffer.unsafeFrame(0),
                    headers: buffer.unsafeFrame(headers), payload: buffer.unsafeFrame(payload))
            } catch {
                logger.error("journal append failed: \(error)")
                counters.drop(.publishJournalFailure)
                continue
            }
            nextSeq += 1
            counters.accepted &+= 1
            buffer.set(Self.pubSeq, bigEndian: seq)
            buffer.set(Self.pubTime, bigEndian: now)
            try fanOut(
                buffer, topic: 0, seq: Self.pubSeq, time: Self.pubTime, id: Self.pubID, headers: headers,
                payload: payload)
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

    /// Sends `[topic][head seq][time][""][""][""]` on the events socket.
    private func sendMarker(topic: [UInt8]) throws {
        let b = eventsBuffer
        // Slots 2...7 are scratch: topic, seq, time, id, headers, payload.
        b.set(2, bytes: topic)
        b.set(3, bigEndian: nextSeq - 1)
        b.set(4, bigEndian: clock())
        b.setEmpty(5)
        b.setEmpty(6)
        b.setEmpty(7)
        guard try b.send(2, on: events, more: true) else { return }
        for slot in 3...6 { _ = try b.send(slot, on: events, more: true) }
        _ = try b.send(7, on: events, more: false)
    }
}

let heartbeatTopic: [UInt8] = Array(Topic.heartbeat.utf8)
