import MetroProtocol
import MetroSecurity
import ZeroMQ

/// The events (XPUB) socket (protocol.md §4.4): live fan-out of every accepted
/// event, the broker's heartbeats and hellos, and the subscriptions subscribers send.
///
/// The event log writes into it (`send`) with the frames of the buffer the event
/// arrived in: handing the fan-out the socket-side work, rather than returning a
/// message to send, keeps the hot path free of allocations (a returned message
/// would be an array of frames per event).
///
/// Threading: owned by the broker's loop thread, which owns the socket.
final class FanOut {
    let events: Socket
    private let counters: BrokerCounters
    /// Subscription messages in; scratch slots 2...4 for the markers (topic, envelope, payload).
    private let buffer = MultipartBuffer(capacity: 2, scratch: 3)
    /// A send that failed with an error (not a full queue): the loop reports it.
    /// XPUB sends never block, so only a closing context can cause one.
    private(set) var failure: ZMQError?
    /// With CURVE on: the socket is ZMQ_XPUB_MANUAL and a subscription is in force
    /// only once `drainSubscriptions` forwards it (protocol.md §7.8).
    private let permissions: BrokerPermissions?

    init(events: Socket, counters: BrokerCounters, permissions: BrokerPermissions? = nil) {
        self.events = events
        self.counters = counters
        self.permissions = permissions
    }

    /// Sends one event as its three frames (§4.4), zero-copy from `buffer`. XPUB
    /// never blocks: a subscriber at its high-water mark loses the event (ZeroMQ
    /// drops it for that subscriber only; the seq shows the gap).
    @inline(__always)
    func send(_ buffer: MultipartBuffer, topic: Int, envelope: Int, payload: Int) {
        do {
            guard try buffer.send(topic, on: events, more: true) else {
                counters.drop(.eventsHighWaterMark)
                return
            }
            _ = try buffer.send(envelope, on: events, more: true)
            _ = try buffer.send(payload, on: events, more: false)
            counters.delivered &+= 1
        } catch {
            failure = error
        }
    }

    /// The failure noted by `send`, once.
    func takeFailure() -> ZMQError? {
        defer { failure = nil }
        return failure
    }

    /// Reads subscription messages: counts them, and answers a
    /// `$metro.hello.<token>` subscription with a hello event (§4.4.2). With CURVE
    /// on, first puts in force the subscriptions the sender may make (before its
    /// hello is answered, so the hello still proves them live) and every
    /// unsubscription: libzmq applies `ZMQ_SUBSCRIBE` on a manual XPUB to the
    /// connection of the message last received.
    func drainSubscriptions(limit: Int, headSeq: UInt64, now: UInt64) throws(ZMQError) {
        var n = 0
        while n < limit, try buffer.receive(from: events) {
            n += 1
            guard buffer.count == 1, buffer.size(0) >= 1 else { continue }
            let helloTopic: [UInt8]? = buffer.withFrame(0) { raw in
                if raw[0] == 1 { counters.subscriptions += 1 } else if raw[0] == 0 { counters.subscriptions -= 1 }
                return Hello.topic(inSubscription: raw)
            }
            if let permissions, try !forward(permissions, isHello: helloTopic != nil, headSeq: headSeq, now: now) {
                continue
            }
            if let helloTopic { try sendMarker(topic: helloTopic, headSeq: headSeq, now: now) }
        }
    }

    /// Applies the subscription message in `buffer` to its connection if allowed;
    /// `false` for a denied subscription, whose connection gets the denial notice
    /// (§4.4.5). `$metro.denied.` itself is never put in force (every denial
    /// would reach that connection); it only lets the subscriber's SUB pass its
    /// own notices. An unsubscription always goes (one that was never in force
    /// changes nothing), also the ones libzmq makes up for a closed connection,
    /// which have no connection left to apply to.
    private func forward(
        _ permissions: BrokerPermissions, isHello: Bool, headSeq: UInt64, now: UInt64
    ) throws(ZMQError) -> Bool {
        let raw = buffer.bytes(0)
        let prefix = Array(raw.dropFirst())
        switch raw[0] {
        case 1:
            if DeniedNotice.isWatch(prefix) { return true }
            let grant = permissions.grant(buffer, frame: 0)
            guard permissions.allowsSubscription(grant, prefix: prefix, isHello: isHello) else {
                try sendDenial(of: prefix, identity: grant.identity, headSeq: headSeq, now: now)
                return false
            }
            try events.set(.subscribe(prefix))
        case 0:
            try events.set(.unsubscribe(prefix))
        default:
            break
        }
        return true
    }

    /// Sends the denial notice of `prefix` to the connection it came from alone: a
    /// manual XPUB applies `ZMQ_SUBSCRIBE` to the connection of the message last
    /// received, so the notice's topic is put in force there, the notice sent, and
    /// the topic taken back before the next message is read.
    private func sendDenial(of prefix: [UInt8], identity: String, headSeq: UInt64, now: UInt64) throws(ZMQError) {
        let topic = DeniedNotice.topic(for: prefix)
        let shown = String(decoding: prefix, as: UTF8.self)
        let message = "110 forbidden: identity '\(identity)' may not subscribe to '\(shown)' (protocol.md §7.8)"
        try events.set(.subscribe(topic))
        try sendMarker(topic: topic, headSeq: headSeq, now: now, payload: Array(message.utf8))
        try events.set(.unsubscribe(topic))
    }

    /// Publishes `$metro.heartbeat` with the head seq.
    func sendHeartbeat(headSeq: UInt64, now: UInt64) throws(ZMQError) {
        try sendMarker(topic: Self.heartbeatTopic, headSeq: headSeq, now: now)
    }

    private static let heartbeatTopic: [UInt8] = Array(Topic.heartbeat.utf8)

    /// Sends `[topic][envelope: head seq, time, no id, no headers][payload]`.
    private func sendMarker(topic: [UInt8], headSeq: UInt64, now: UInt64, payload: [UInt8] = []) throws(ZMQError) {
        let b = buffer
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        b.set(2, bytes: topic)
        b.set(3, count: EventEnvelope.size(idCount: 0, headersCount: 0)) {
            EventEnvelope.write(into: $0, seq: headSeq, time: now, id: none, headers: none)
        }
        if payload.isEmpty { b.setEmpty(4) } else { b.set(4, bytes: payload) }
        guard try b.send(2, on: events, more: true) else { return }
        _ = try b.send(3, on: events, more: true)
        _ = try b.send(4, on: events, more: false)
    }
}
