import Foundation
import MetroProtocol
import MetroTestSupport
import Testing

/// Decodes every test vector of docs/protocol.md Appendix A with the real codecs.
@Suite struct ProtocolVectorTests {
    static let vectors: [String: [[UInt8]]] = {
        (try? ProtocolVectors.load()).map { $0.filter { !$0.key.hasPrefix("registry.") } } ?? [:]
    }()

    func vector(_ name: String) throws -> [[UInt8]] { try #require(Self.vectors[name], "vector \(name) missing") }

    @Test func allVectorsArePresent() {
        #expect(
            Set(Self.vectors.keys) == [
                "publish", "ack", "error", "fire-and-forget", "live-event", "heartbeat",
                "hello-subscription", "stats", "journal-record",
            ])
    }

    @Test func publish() throws {
        let frames = try vector("publish")
        #expect(IngestCodec.decide(frames, offset: 0, maxPayloadBytes: 1024) == .publish)
        let p = IngestCodec.Publish(
            eventID: Array("e-1".utf8), topic: "video.uploaded", headers: Array("{}".utf8),
            payload: Array("hi".utf8))
        #expect(p.frames == frames)
    }

    @Test func ackAndError() throws {
        #expect(IngestCodec.decodeReply(try vector("ack")) == .ack(eventID: Array("e-1".utf8), seq: 42))
        guard case .error(let e, let id)? = IngestCodec.decodeReply(try vector("error")) else {
            Issue.record("error vector did not decode")
            return
        }
        #expect(e.code == .invalidTopic && id == Array("e-2".utf8))
        #expect(IngestCodec.errorFrames(e, context: [Array("e-2".utf8)]) == (try vector("error")))
    }

    @Test func fireAndForget() throws {
        let frames = try vector("fire-and-forget")
        #expect(PublishCodec.check(frames, maxPayloadBytes: 1024) == nil)
        #expect(frames[2] == Array("v9".utf8))
    }

    @Test func liveEventAndHeartbeat() throws {
        let event = try #require(LiveEvent(frames: try vector("live-event")))
        #expect(
            event
                == LiveEvent(
                    topic: "video.uploaded", seq: 42, time: 1_700_000_000_000_000_000,
                    eventID: Array("e-1".utf8), headers: Array("{}".utf8), payload: Array("hi".utf8)))
        #expect(event.frames == (try vector("live-event")), "encoding gives the document's bytes")
        let heartbeat = try #require(LiveEvent(frames: try vector("heartbeat")))
        #expect(heartbeat.isHeartbeat && heartbeat.seq == 42 && heartbeat.payload.isEmpty)
    }

    @Test func helloAndStats() throws {
        let sub = try vector("hello-subscription")[0]
        #expect(sub.withUnsafeBytes { Hello.topic(inSubscription: $0) } == Array(Hello.topic(token: "t1").utf8))
        #expect((try? ConsumeCodec.decide(try vector("stats"), offset: 0).get()) == .stats)
    }

    @Test func journalRecord() throws {
        let bytes = try vector("journal-record")[0]
        let record = try #require(JournalRecord(decoding: bytes))
        #expect(
            record
                == JournalRecord(
                    seq: 42, time: 1_700_000_000_000_000_000, eventID: Array("e-1".utf8),
                    topic: Array("video.uploaded".utf8), headers: Array("{}".utf8),
                    payload: Array("hi".utf8)))
        #expect(record.encoded == bytes)
        #expect(CRC32C.checksum(Array(bytes[8...])) == 0x8F59_9453)
    }
}
