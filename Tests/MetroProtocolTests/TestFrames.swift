import MetroProtocol

/// Frame builders the broker has no use for (it encodes typed replies and writes
/// ACKs pair by pair), kept for the tests that compare bytes.
extension IngestCodec {
    static func ackFrames(eventID: [UInt8], seq: UInt64) -> [[UInt8]] {
        ackFrames([Ack(eventID: eventID, seq: seq)])
    }

    static func ackFrames(_ acks: [Ack]) -> [[UInt8]] {
        [WireProtocol.versionBytes, ackCommand] + acks.flatMap { [$0.eventID, BigEndian.bytes($0.seq)] }
    }
}

extension GroupCodec {
    static func deliverFrames(group: String, seq: UInt64, attempt: UInt32, event: LiveEvent) -> [[UInt8]] {
        Reply.deliver(group: group, seq: seq, attempt: attempt, event).encode()
    }
}

extension ReplayCodec {
    static func eventFrames(id: [UInt8], event: LiveEvent) -> [[UInt8]] { Reply.event(id: id, event).encode() }
}
