/// An event as the events (XPUB) socket sends it (protocol.md §4.4):
///
/// ```
/// B: [topic] [envelope: seq, time, event-id, headers] [payload]
/// ```
///
/// Fire-and-forget events carry an empty event id. Heartbeats and hellos use the
/// same three frames on reserved topics, with the head seq in the envelope.
/// Code outside this file builds and reads events only through `LiveEvent`.
public struct LiveEvent: Sendable, Equatable {
    /// The topic (`video.uploaded`); subscribers and groups match its prefix. Reserved
    /// topics start with `$` (heartbeats, hellos, registry events, dead letters).
    public var topic: String
    /// The broker's sequence number: strictly increasing over the journal, so a gap
    /// in a subscriber's view is visible. 0 for fire-and-forget events never journaled.
    public var seq: UInt64
    /// Nanoseconds since the Unix epoch, stamped by the broker.
    public var time: UInt64
    /// The publisher's id (1...64 bytes; empty for fire-and-forget): the broker's
    /// dedupe key and a service's idempotency key (inbox).
    public var eventID: [UInt8]
    /// The publisher's headers, opaque bytes (JSON by convention, docs/events.md).
    public var headers: [UInt8]
    /// The event body, opaque bytes; at most the broker's `maxPayloadBytes`.
    public var payload: [UInt8]

    package static let frameCount = 3

    /// An event from its parts, e.g. to test a handler without a broker.
    public init(topic: String, seq: UInt64, time: UInt64, eventID: [UInt8], headers: [UInt8], payload: [UInt8]) {
        self.topic = topic
        self.seq = seq
        self.time = time
        self.eventID = eventID
        self.headers = headers
        self.payload = payload
    }

    package var frames: [[UInt8]] {
        [Array(topic.utf8), EventEnvelope.encode(seq: seq, time: time, eventID: eventID, headers: headers), payload]
    }

    /// Decodes the three frames; nil if the shape is wrong.
    package init?(frames: [[UInt8]]) {
        guard frames.count == Self.frameCount, let envelope = EventEnvelope.decode(frames[1]),
            let topic = String(validating: frames[0], as: UTF8.self)
        else { return nil }
        self.init(
            topic: topic, seq: envelope.seq, time: envelope.time, eventID: envelope.eventID,
            headers: envelope.headers, payload: frames[2])
    }

    /// Whether this is a heartbeat (`$metro.heartbeat`); its seq is the broker's head.
    public var isHeartbeat: Bool { topic == Topic.heartbeat }
}

/// The subscription handshake (protocol.md §4.4.2): a subscriber that also subscribes
/// to `$metro.hello.<token>` gets one event on that topic once the broker has seen
/// that subscription, and therefore every subscription the same socket sent before
/// it. Its seq frame is the head seq: every later event matching the socket's
/// prefixes is delivered (unless dropped at the high-water mark, a gap the seq shows).
package enum Hello {
    package static let prefix = "$metro.hello."
    package static let prefixBytes: [UInt8] = Array(prefix.utf8)

    package static func topic(token: String) -> String { prefix + token }

    /// The hello topic inside a subscription message (`0x01` + prefix) received
    /// on the XPUB socket, or nil when it is not a valid hello subscription.
    package static func topic(inSubscription raw: UnsafeRawBufferPointer) -> [UInt8]? {
        guard raw.count > 1 + prefixBytes.count, raw.count <= 1 + prefixBytes.count + BrokerLimits.maxHelloTokenBytes,
            raw[0] == 1
        else { return nil }
        let topic = raw[1...]
        guard topic.starts(with: prefixBytes) else { return nil }
        for b in topic.dropFirst(prefixBytes.count) {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                continue
            default:
                return nil
            }
        }
        return Array(topic)
    }
}

/// The notice of a refused subscription (protocol.md §4.4.5): with security on, a
/// subscription the identity may not make is not put in force, and the broker
/// sends `["$metro.denied." + prefix] [envelope: head seq] [message]` to that one
/// connection. A subscriber sees it only if its SUB is subscribed to
/// `$metro.denied.` (which the broker never puts in force itself: the notice is
/// routed by a subscription the broker makes for that connection alone).
package enum DeniedNotice {
    package static let prefix = "$metro.denied."
    package static let prefixBytes: [UInt8] = Array(prefix.utf8)

    /// The notice's topic for a refused `subscriptionPrefix`.
    package static func topic(for subscriptionPrefix: [UInt8]) -> [UInt8] { prefixBytes + subscriptionPrefix }

    /// Whether a subscription's prefix is the subscriber's own `$metro.denied.`.
    package static func isWatch(_ subscriptionPrefix: [UInt8]) -> Bool { subscriptionPrefix == prefixBytes }
}
