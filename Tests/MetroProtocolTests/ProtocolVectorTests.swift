import Foundation
import MetroProtocol
import MetroTestSupport
import Testing

/// Decodes every test vector of docs/protocol.md Appendix A with the real codecs.
@Suite struct ProtocolVectorTests {
    static let vectors: [String: [[UInt8]]] = {
        (try? ProtocolVectors.load()).map { $0.filter { !$0.key.hasPrefix("registry.") && !$0.key.hasPrefix("rpc.") } }
            ?? [:]
    }()

    /// The two events of the batch vectors (framed and packed) and their ACK pairs.
    static let twoEvents: [IngestCodec.Publish] = [
        .init(
            eventID: Array("e-1".utf8), topic: "video.uploaded", headers: Array("{}".utf8), payload: Array("hi".utf8)),
        .init(eventID: Array("e-2".utf8), topic: "video.watched", payload: []),
    ]
    static let twoAcks: [IngestCodec.Ack] = [
        .init(eventID: Array("e-1".utf8), seq: 42), .init(eventID: Array("e-2".utf8), seq: 43),
    ]

    func vector(_ name: String) throws -> [[UInt8]] { try #require(Self.vectors[name], "vector \(name) missing") }

    @Test func allVectorsArePresent() {
        #expect(
            Set(Self.vectors.keys) == [
                "publish", "ack", "publish-two", "ack-two", "publish-packed", "ack-packed", "error", "fire-and-forget",
                "live-event", "heartbeat",
                "hello-subscription", "stats", "journal-record", "replay-request", "replay-credit",
                "replay-event", "replay-caught-up", "replay-error-out-of-range", "group-join", "group-joined",
                "group-deliver", "group-ack", "group-nak", "group-reject", "group-error-unknown-delivery",
                "error-malformed",
                "replay-error-malformed", "replay-packed-request", "replay-event-packed", "group-join-packed",
                "group-deliver-packed", "group-acks", "group-delete", "group-deleted",
                "group-skip-damaged", "group-skipped", "replay-error-damaged",
            ])
    }

    /// §4.10.3: DELETE and DELETED, decoded and encoded.
    @Test func deleteGroupVectors() throws {
        let delete = GroupCodec.Request.delete(group: "workers")
        #expect(delete.frames == (try vector("group-delete")))
        #expect((try? ConsumeCodec.decodeRequest(try vector("group-delete"), offset: 0).get()) == .group(delete))
        let deleted = GroupCodec.Deleted(group: "workers", prefixes: ["video."], position: 41, pending: 2)
        #expect(GroupCodec.Reply.deleted(deleted).encode() == (try vector("group-deleted")))
        #expect(GroupCodec.decodeReply(try vector("group-deleted")) == .deleted(deleted))
    }

    /// §4.10.4: SKIP-DAMAGED and SKIPPED, decoded and encoded.
    @Test func skipDamagedVectors() throws {
        let skip = GroupCodec.Request.skipDamaged(group: "workers", seq: 40)
        #expect(skip.frames == (try vector("group-skip-damaged")))
        #expect((try? ConsumeCodec.decodeRequest(try vector("group-skip-damaged"), offset: 0).get()) == .group(skip))
        let skipped = GroupCodec.Skipped(
            group: "workers", seq: 40, segment: "00000000000000000001.seg", offset: 41_000, position: 40)
        #expect(GroupCodec.Reply.skipped(skipped).encode() == (try vector("group-skipped")))
        #expect(GroupCodec.decodeReply(try vector("group-skipped")) == .skipped(skipped))
    }

    /// §4.10.2: JOIN with `batchBytes`, DELIVER-PACKED with the records of
    /// `replay-event-packed`, ACKS.
    @Test func packedGroupVectors() throws {
        let join = GroupCodec.Request.join(
            group: "workers", member: "w-1", credit: 64, config: .init(prefixes: ["video."], batchBytes: 65_536))
        #expect(join.frames == (try vector("group-join-packed")))
        #expect((try? ConsumeCodec.decodeRequest(try vector("group-join-packed"), offset: 0).get()) == .group(join))

        let frames = try vector("group-deliver-packed")
        #expect(frames[4] == (try vector("replay-event-packed"))[3])
        guard case .deliverPacked(let group, let body)? = GroupCodec.decodeReply(frames) else {
            Issue.record("DELIVER-PACKED did not decode")
            return
        }
        #expect(group == "workers")
        let deliveries = try #require(body.deliveries())
        #expect(deliveries.map(\.seq) == [42, 43] && deliveries.map(\.attempt) == [1, 2])
        #expect(deliveries[0].event == LiveEvent(frames: try vector("live-event")))
        var rebuilt = PackedDelivery()
        for d in deliveries { rebuilt.append(attempt: d.attempt, d.event) }
        #expect(GroupCodec.Reply.deliverPacked(group: "workers", rebuilt).encode() == frames)

        let acks = GroupCodec.Request.acks(group: "workers", credit: 2, seqs: [42, 43])
        #expect(acks.frames == (try vector("group-acks")))
        #expect((try? ConsumeCodec.decodeRequest(try vector("group-acks"), offset: 0).get()) == .group(acks))
    }

    @Test func publish() throws {
        let frames = try vector("publish")
        #expect(IngestCodec.decide(frames, offset: 0, maxPayloadBytes: 1024) == .publish(events: 1))
        #expect(IngestCodec.checkEvent(frames, at: 2, maxPayloadBytes: 1024) == nil)
        let p = IngestCodec.Publish(
            eventID: Array("e-1".utf8), topic: "video.uploaded", headers: Array("{}".utf8),
            payload: Array("hi".utf8))
        #expect(p.frames == frames)
    }

    @Test func ackAndError() throws {
        #expect(IngestCodec.decodeReply(try vector("ack")) == .acks([.init(eventID: Array("e-1".utf8), seq: 42)]))
        let two = try vector("publish-two")
        #expect(IngestCodec.decide(two, offset: 0, maxPayloadBytes: 1024) == .publish(events: 2))
        #expect(
            two
                == IngestCodec.frames(publishing: Self.twoEvents))
        #expect(IngestCodec.decodeReply(try vector("ack-two")) == .acks(Self.twoAcks))
        guard case .error(let e, let id)? = IngestCodec.decodeReply(try vector("error")) else {
            Issue.record("error vector did not decode")
            return
        }
        #expect(e.code == .invalidTopic && id == Array("e-2".utf8))
        #expect(IngestCodec.errorFrames(e, eventID: Array("e-2".utf8)) == (try vector("error")))
    }

    @Test func packed() throws {
        let frames = try vector("publish-packed")
        #expect(IngestCodec.decide(frames, offset: 0, maxPayloadBytes: 1024) == .publishPacked(events: 2))
        #expect(
            frames
                == PackedEvents.frames(publishing: Self.twoEvents))
        #expect(IngestCodec.decodeReply(try vector("ack-packed")) == .acks(Self.twoAcks))
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
        #expect((try? ConsumeCodec.decodeRequest(try vector("stats"), offset: 0).get()) == .stats)
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

    @Test func replay() throws {
        let request = ReplayCodec.Request(
            id: Array("r1".utf8), start: .seq(40), credit: 100, prefixes: [Array("video.".utf8)])
        #expect(request.frames == (try vector("replay-request")))
        #expect((try? ConsumeCodec.decodeRequest(try vector("replay-request"), offset: 0).get()) == .replay(request))
        #expect(ReplayCodec.creditFrames(id: Array("r1".utf8), credit: 50) == (try vector("replay-credit")))
        #expect(
            (try? ConsumeCodec.decodeRequest(try vector("replay-credit"), offset: 0).get())
                == .credit(id: Array("r1".utf8), credit: 50))
        // An EVENT carries the event exactly as the events socket does.
        let live = try #require(LiveEvent(frames: try vector("live-event")))
        let event = try vector("replay-event")
        #expect(Array(event.dropFirst(3)) == (try vector("live-event")))
        #expect(ReplayCodec.decodeReply(event) == .event(id: Array("r1".utf8), live))
        #expect(ReplayCodec.eventFrames(id: Array("r1".utf8), event: live) == event)
        #expect(ReplayCodec.decodeReply(try vector("replay-caught-up")) == .caughtUp(id: Array("r1".utf8), lastSeq: 57))
        guard
            case .error(let e, let id, let earliest)? = ReplayCodec.decodeReply(try vector("replay-error-out-of-range"))
        else {
            Issue.record("the 204 vector did not decode")
            return
        }
        #expect(e.code == .sequenceOutOfRange && id == Array("r1".utf8) && earliest == 1000)
        let damaged = ReplayCodec.Reply.error(
            WireError(.damagedRecord, "the record 40 is damaged"), id: Array("r1".utf8), seq: 40)
        #expect(ReplayCodec.decodeReply(try vector("replay-error-damaged")) == damaged)
        #expect(damaged.encode() == (try vector("replay-error-damaged")))
    }

    /// §3.1: the replies to requests with too many frames carry the request's third frame.
    @Test func errorsOfOversizedRequestsCarryTheID() throws {
        let reply = try vector("error-malformed")
        #expect(
            IngestCodec.decodeReply(reply)
                == .error(
                    WireError(.malformedMessage, String(decoding: reply[3], as: UTF8.self)), eventID: Array("e-1".utf8))
        )
        let events = (0..<257).map { _ in Self.twoEvents[0] }
        let request = [WireProtocol.versionBytes, IngestCodec.publishCommand] + events.flatMap(\.eventFrames)
        guard case .reject(let e, let idFrame?) = IngestCodec.decide(request, offset: 0, maxPayloadBytes: 1024) else {
            Issue.record("257 events not rejected with an id")
            return
        }
        #expect(IngestCodec.errorFrames(e, eventID: request[idFrame]) == reply)

        let replay = try vector("replay-error-malformed")
        #expect(
            ReplayCodec.decodeReply(replay)
                == .error(WireError(.malformedMessage, "at most 64 prefixes"), id: Array("r1".utf8), seq: nil))
        let tooMany = try vector("replay-request") + Array(repeating: Array("video.".utf8), count: 64)
        guard case .failure(let f) = ConsumeCodec.decodeRequest(tooMany, offset: 0) else {
            Issue.record("65 prefixes accepted")
            return
        }
        #expect(f.encode() == replay)
    }

    @Test func groups() throws {
        let config = GroupCodec.Config(prefixes: ["video."], start: .earliest, ackTimeoutMs: 30000, maxDeliveries: 5)
        let join = GroupCodec.Request.join(group: "workers", member: "w-1", credit: 10, config: config)
        #expect(join.frames == (try vector("group-join")))
        #expect((try? ConsumeCodec.decodeRequest(try vector("group-join"), offset: 0).get()) == .group(join))
        let joined = GroupCodec.Joined(
            group: "workers", prefixes: ["video."], ackTimeoutMs: 30000, maxDeliveries: 5, heartbeatMs: 1000,
            position: 41)
        #expect(GroupCodec.decodeReply(try vector("group-joined")) == .joined(joined))
        #expect(WireJSON.encode(joined) == (try vector("group-joined"))[3])
        let live = try #require(LiveEvent(frames: try vector("live-event")))
        let deliver = try vector("group-deliver")
        #expect(Array(deliver.dropFirst(5)) == (try vector("live-event")))
        #expect(GroupCodec.deliverFrames(group: "workers", seq: 42, attempt: 1, event: live) == deliver)
        #expect(GroupCodec.decodeReply(deliver) == .deliver(group: "workers", seq: 42, attempt: 1, live))
        #expect(GroupCodec.Request.ack(group: "workers", seq: 42).frames == (try vector("group-ack")))
        #expect(GroupCodec.Request.nak(group: "workers", seq: 42, delayMs: 5000).frames == (try vector("group-nak")))
        #expect(
            (try? ConsumeCodec.decodeRequest(try vector("group-nak"), offset: 0).get())
                == .group(.nak(group: "workers", seq: 42, delayMs: 5000)))
        let reject = GroupCodec.Request.reject(group: "workers", seq: 42, reason: "payload is not JSON")
        #expect(reject.frames == (try vector("group-reject")))
        #expect((try? ConsumeCodec.decodeRequest(try vector("group-reject"), offset: 0).get()) == .group(reject))
        guard case .error(let e, let context)? = GroupCodec.decodeReply(try vector("group-error-unknown-delivery"))
        else {
            Issue.record("the 203 vector did not decode")
            return
        }
        #expect(e.code == .unknownDelivery && context == [Array("workers".utf8), BigEndian.bytes(42)])
    }
}
