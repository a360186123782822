import MetroProtocol
import Testing

/// The packed form of acknowledged publish (protocol.md §4.2.6).
@Suite struct PackedBatchTests {
    let max = 1024

    func events(_ n: Int) -> [IngestCodec.Publish] {
        (0..<n).map {
            IngestCodec.Publish(
                eventID: Array("p-\($0)".utf8), topic: "video.t\($0 % 3)", headers: $0 % 2 == 0 ? [] : Array("{}".utf8),
                payload: [UInt8](repeating: UInt8($0 & 0xff), count: $0 % 5))
        }
    }

    func decide(_ frames: [[UInt8]]) -> IngestCodec.Decision {
        IngestCodec.decide(frames, offset: 0, maxPayloadBytes: max)
    }

    func code(_ d: IngestCodec.Decision) -> WireErrorCode? {
        if case .reject(let e, _) = d { return e.code }
        return nil
    }

    /// What the iterator reads back, as owned values.
    func unpack(_ frame: [UInt8]) -> [IngestCodec.Publish] {
        frame.withUnsafeBytes { raw in
            var it = PackedEvents.Iterator(raw)
            var out: [IngestCodec.Publish] = []
            while let e = it.next() {
                out.append(
                    .init(
                        eventID: [UInt8](e.id), topic: String(decoding: e.topic, as: UTF8.self),
                        headers: [UInt8](e.headers), payload: [UInt8](e.payload)))
            }
            return out
        }
    }

    @Test func eventsRoundTrip() {
        for n in [1, 2, 7, 256] {
            let frames = PackedEvents.frames(publishing: events(n))
            #expect(frames.count == 3 && frames[1] == Array("PUBLISH-PACKED".utf8))
            #expect(decide(frames) == .publishPacked(events: n))
            #expect(unpack(frames[2]) == events(n))
        }
    }

    @Test func structuralDamageIsMalformed() {
        let good = PackedEvents.frames(publishing: events(3))
        #expect(code(decide(Array(good.prefix(2)))) == .malformedMessage)
        #expect(code(decide(good + [[]])) == .malformedMessage)
        #expect(code(decide([good[0], good[1], []])) == .malformedMessage)
        #expect(code(decide([good[0], good[1], good[2] + [0]])) == .malformedMessage)
        let tooMany = PackedEvents.frames(publishing: events(256))[2] + PackedEvents.frame(events(1))
        #expect(code(decide([good[0], good[1], tooMany])) == .malformedMessage)
        // Every cut of a sound frame is refused but those between events; nothing
        // reads past the end.
        let boundaries = [PackedEvents.frame(events(1)).count: 1, PackedEvents.frame(events(2)).count: 2]
        for cut in 0..<good[2].count {
            let d = decide([good[0], good[1], Array(good[2].prefix(cut))])
            if let n = boundaries[cut] {
                #expect(d == .publishPacked(events: n))
            } else {
                #expect(code(d) == .malformedMessage)
            }
        }
        // A length that points past the end, in each field.
        #expect(code(decide([good[0], good[1], [9, 1]])) == .malformedMessage)
        #expect(code(decide([good[0], good[1], [1, 65, 9, 97]])) == .malformedMessage)
        #expect(code(decide([good[0], good[1], [1, 65, 1, 97, 0xff, 0xff, 0xff, 0xff]])) == .malformedMessage)
        #expect(code(decide([good[0], good[1], [1, 65, 1, 97, 0, 0, 0, 0, 0, 0, 0, 1]])) == .malformedMessage)
        #expect(decide([good[0], good[1], [1, 65, 1, 97, 0, 0, 0, 0, 0, 0, 0, 1, 7]]) == .publishPacked(events: 1))
    }

    @Test func randomBytesNeverCrashTheParser() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let frame = (0..<Int.random(in: 0..<64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let n = frame.withUnsafeBytes { PackedEvents.count(in: $0, limit: 256) }
            // Whatever was accepted walks to exactly the end.
            if let n { #expect(unpack(frame).count == n) }
        }
    }

    @Test func fieldsAreCheckedPerEvent() {
        func check(_ e: IngestCodec.Publish) -> WireErrorCode? {
            let frame = PackedEvents.frame([e])
            return frame.withUnsafeBytes { raw -> WireErrorCode? in
                var it = PackedEvents.Iterator(raw)
                let v = it.next()!
                return IngestCodec.checkEvent(
                    id: v.id, topic: v.topic, headersCount: v.headers.count, payloadCount: v.payload.count,
                    maxPayloadBytes: max)?.code
            }
        }
        #expect(check(.init(eventID: [1], topic: "a.b", payload: [])) == nil)
        #expect(check(.init(eventID: [], topic: "a.b", payload: [])) == .missingEventID)
        #expect(check(.init(eventID: [UInt8](repeating: 65, count: 65), topic: "a.b", payload: [])) == .tooLarge)
        #expect(check(.init(eventID: [1], topic: "a..b", payload: [])) == .invalidTopic)
        #expect(check(.init(eventID: [1], topic: "", payload: [])) == .invalidTopic)
        #expect(check(.init(eventID: [1], topic: "$metro.x", payload: [])) == .invalidTopic)
        #expect(check(.init(eventID: [1], topic: "$registry.x", payload: [])) == nil)
        #expect(check(.init(eventID: [1], topic: "a", payload: [UInt8](repeating: 0, count: max + 1))) == .tooLarge)
        #expect(
            check(.init(eventID: [1], topic: "a", headers: [UInt8](repeating: 0, count: 65537), payload: []))
                == .tooLarge)
        #expect(IngestCodec.echoesID(idLength: 1) && IngestCodec.echoesID(idLength: 64))
        #expect(!IngestCodec.echoesID(idLength: 0) && !IngestCodec.echoesID(idLength: 65))
    }

    @Test func packedAcksRoundTrip() {
        let acks = [IngestCodec.Ack(eventID: [1], seq: 7), IngestCodec.Ack(eventID: Array("e-2".utf8), seq: 1 << 40)]
        let reply = [WireProtocol.versionBytes, PackedEvents.ackCommand, PackedEvents.ackFrame(acks)]
        #expect(IngestCodec.decodeReply(reply) == .acks(acks))
        #expect(IngestCodec.decodeReply(reply + [[]]) == nil)
        #expect(IngestCodec.decodeReply([reply[0], reply[1], Array(reply[2].dropLast())]) == nil)
        #expect(IngestCodec.decodeReply([reply[0], reply[1], []]) == nil)
        #expect(IngestCodec.decodeReply([reply[0], reply[1], [0] + [UInt8](repeating: 0, count: 8)]) == nil)
    }
}
