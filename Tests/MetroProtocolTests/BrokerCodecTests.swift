import MetroProtocol
import Testing

@Suite struct CRC32CTests {
    @Test func knownVectors() {
        #expect(CRC32C.checksum("123456789") == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        // RFC 3720 appendix B.4.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
    }

    @Test func incrementalEqualsWhole() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let whole = CRC32C.checksum(bytes)
        let first = bytes[..<333].withUnsafeBytes { CRC32C.update(0, $0) }
        let both = bytes[333...].withUnsafeBytes { CRC32C.update(first, $0) }
        #expect(both == whole)
    }

    /// The CPU's instruction and the table-driven reference agree on every length
    /// and alignment (this machine has SSE4.2, so `update` takes the hardware path).
    @Test func hardwareAgreesWithSoftware() {
        let bytes = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        bytes.withUnsafeBytes { all in
            for start in 0..<9 {
                for end in stride(from: start, through: all.count, by: 7) {
                    let part = UnsafeRawBufferPointer(rebasing: all[start..<end])
                    #expect(CRC32C.update(0x1234_5678, part) == CRC32C.softwareUpdate(0x1234_5678, part))
                }
            }
        }
        #if arch(x86_64)
            #expect(CRC32C.usesHardware)
        #endif
    }
}

@Suite struct IngestCodecTests {
    let max = 1024

    /// The broker's whole verdict on a plain request: `decide`, then `checkEvent`
    /// for a single-event PUBLISH (as `drainIngest` does).
    func decide(_ frames: [[UInt8]]) -> IngestCodec.Decision {
        let d = IngestCodec.decide(frames, offset: 0, maxPayloadBytes: max)
        guard case .publish(1) = d else { return d }
        return IngestCodec.checkEvent(frames, at: 2, maxPayloadBytes: max) ?? d
    }

    func code(_ d: IngestCodec.Decision) -> WireErrorCode? {
        if case .reject(let e, _) = d { return e.code }
        return nil
    }

    @Test func validPublish() {
        let p = IngestCodec.Publish(eventID: Array("e1".utf8), topic: "video.uploaded", payload: [1, 2])
        #expect(decide(p.frames) == .publish(events: 1))
    }

    @Test func severalEventsInOnePublish() {
        let events = (0..<3).map {
            IngestCodec.Publish(eventID: Array("e\($0)".utf8), topic: "video.uploaded", payload: [UInt8($0)])
        }
        var frames = IngestCodec.frames(publishing: events)
        #expect(IngestCodec.decide(frames, offset: 0, maxPayloadBytes: max) == .publish(events: 3))
        frames[2 + 4 + 1] = Array("bad..topic".utf8)  // event 1's topic
        #expect(IngestCodec.checkEvent(frames, at: 2, maxPayloadBytes: max) == nil)
        #expect(
            code(IngestCodec.checkEvent(frames, at: 6, maxPayloadBytes: max) ?? .publish(events: 1)) == .invalidTopic)
        #expect(IngestCodec.checkEvent(frames, at: 10, maxPayloadBytes: max) == nil)
        // 2 + 4k frames only, k at most 256.
        #expect(code(IngestCodec.decide(frames + [[]], offset: 0, maxPayloadBytes: max)) == .malformedMessage)
        let many = IngestCodec.frames(publishing: Array(repeating: events[0], count: 256))
        #expect(IngestCodec.decide(many, offset: 0, maxPayloadBytes: max) == .publish(events: 256))
        #expect(
            code(IngestCodec.decide(many + events[0].eventFrames, offset: 0, maxPayloadBytes: max)) == .malformedMessage
        )
    }

    @Test func ackWithSeveralPairs() {
        let acks = [IngestCodec.Ack(eventID: [1], seq: 7), IngestCodec.Ack(eventID: [2, 3], seq: 9)]
        #expect(IngestCodec.decodeReply(IngestCodec.ackFrames(acks)) == .acks(acks))
        #expect(IngestCodec.decodeReply(Array(IngestCodec.ackFrames(acks).dropLast())) == nil)
    }

    @Test func rejections() {
        let ok = IngestCodec.Publish(eventID: Array("e1".utf8), topic: "video.uploaded", payload: [1]).frames
        #expect(code(decide([])) == .malformedMessage)
        #expect(code(decide([Array("metro/2".utf8)])) == .unsupportedVersion)
        #expect(code(decide([WireProtocol.versionBytes])) == .malformedMessage)
        #expect(code(decide([WireProtocol.versionBytes, Array("PUBLISHX".utf8)])) == .unknownCommand)
        #expect(code(decide(Array(ok.prefix(5)))) == .malformedMessage)
        #expect(code(decide(ok + [[]])) == .malformedMessage)
        var noID = ok; noID[2] = []
        #expect(code(decide(noID)) == .missingEventID)
        var longID = ok; longID[2] = [UInt8](repeating: 65, count: 65)
        #expect(code(decide(longID)) == .tooLarge)
        var badTopic = ok; badTopic[3] = Array("video..x".utf8)
        #expect(decide(badTopic) == .reject(Topic.validate(Array("video..x".utf8))!, eventIDFrame: 2))
        var reserved = ok; reserved[3] = Array("$metro.heartbeat".utf8)
        #expect(code(decide(reserved)) == .invalidTopic)
        var longTopic = ok; longTopic[3] = [UInt8](repeating: 97, count: 256)
        #expect(code(decide(longTopic)) == .invalidTopic)
        var big = ok; big[5] = [UInt8](repeating: 0, count: max + 1)
        #expect(code(decide(big)) == .tooLarge)
        var bigHeaders = ok; bigHeaders[4] = [UInt8](repeating: 0, count: BrokerLimits.maxHeadersBytes + 1)
        #expect(code(decide(bigHeaders)) == .tooLarge)
    }

    @Test func repliesRoundTrip() {
        let ack = IngestCodec.ackFrames(eventID: [1, 2], seq: 42)
        #expect(IngestCodec.decodeReply(ack) == .acks([.init(eventID: [1, 2], seq: 42)]))
        let err = IngestCodec.errorFrames(WireError(.invalidTopic, "bad"), eventID: [9])
        #expect(IngestCodec.decodeReply(err) == .error(WireError(.invalidTopic, "bad"), eventID: [9]))
        #expect(IngestCodec.decodeReply([Array("metro/1".utf8), Array("ACK".utf8), [1], [0, 1]]) == nil)
    }
}

@Suite struct BroadcastCodecTests {
    @Test func liveEventRoundTrip() {
        let e = LiveEvent(topic: "a.b", seq: 7, time: 99, eventID: [1], headers: [2], payload: [3, 4])
        #expect(LiveEvent(frames: e.frames) == e)
        #expect(LiveEvent(frames: Array(e.frames.prefix(2))) == nil)
        #expect(
            LiveEvent(frames: [e.frames[0], Array(e.frames[1].prefix(16)), e.frames[2]]) == nil, "a short envelope")
    }

    @Test func publishChecks() {
        #expect(PublishCodec.check([Array("a.b".utf8), [1]], maxPayloadBytes: 10) == nil)
        #expect(PublishCodec.check([Array("a.b".utf8), [], [1]], maxPayloadBytes: 10) == nil)
        #expect(PublishCodec.check([Array("a.b".utf8)], maxPayloadBytes: 10) == .malformed)
        #expect(PublishCodec.check([Array("a b".utf8), [1]], maxPayloadBytes: 10) == .invalidTopic)
        #expect(PublishCodec.check([Array("$x".utf8), [1]], maxPayloadBytes: 10) == .invalidTopic)
        #expect(
            PublishCodec.check([Array("a.b".utf8), [UInt8](repeating: 0, count: 11)], maxPayloadBytes: 10) == .tooLarge)
    }

    @Test func helloSubscription() {
        let sub: [UInt8] = [1] + Array("$metro.hello.abc-1".utf8)
        #expect(sub.withUnsafeBytes { Hello.topic(inSubscription: $0) } == Array("$metro.hello.abc-1".utf8))
        let unsub: [UInt8] = [0] + Array("$metro.hello.abc".utf8)
        #expect(unsub.withUnsafeBytes { Hello.topic(inSubscription: $0) } == nil)
        let other: [UInt8] = [1] + Array("video.".utf8)
        #expect(other.withUnsafeBytes { Hello.topic(inSubscription: $0) } == nil)
        let bad: [UInt8] = [1] + Array("$metro.hello.a b".utf8)
        #expect(bad.withUnsafeBytes { Hello.topic(inSubscription: $0) } == nil)
    }

    @Test func consumeCommands() {
        #expect((try? ConsumeCodec.decodeRequest(ConsumeCodec.requestFrames(.stats), offset: 0).get()) == .stats)
        if case .failure(let e) = ConsumeCodec.decodeRequest(
            [WireProtocol.versionBytes, Array("NOPE".utf8)], offset: 0)
        {
            #expect(e.error.code == .unknownCommand)
        } else {
            Issue.record("NOPE accepted")
        }
        if case .failure(let e) = ConsumeCodec.decodeRequest([[0xff]], offset: 0) {
            #expect(e.error.code == .unsupportedVersion)
        } else {
            Issue.record("garbage accepted")
        }
    }
}

@Suite struct JournalRecordTests {
    let record = JournalRecord(
        seq: 5, time: 1_700_000_000_000_000_000, eventID: Array("id".utf8),
        topic: Array("video.uploaded".utf8), headers: Array("{}".utf8), payload: [1, 2, 3])

    @Test func roundTrip() {
        let bytes = record.encoded
        #expect(bytes.count == JournalRecord.headerBytes + 2 + 14 + 2 + 3)
        #expect(JournalRecord(decoding: bytes) == record)
    }

    @Test func tornAndCorrupt() {
        let bytes = record.encoded
        #expect(bytes.dropLast().withUnsafeBytes { JournalRecord.probe($0) } == .truncated)
        #expect(bytes.prefix(10).withUnsafeBytes { JournalRecord.probe($0) } == .truncated)
        var flipped = bytes
        flipped[bytes.count - 1] ^= 1
        #expect(flipped.withUnsafeBytes { JournalRecord.probe($0) } == .corrupt)
        var zero = bytes
        for i in 0..<8 { zero[i] = 0 }
        #expect(zero.withUnsafeBytes { JournalRecord.probe($0) } == .corrupt)
    }
}
