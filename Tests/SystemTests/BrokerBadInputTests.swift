import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

extension BrokerSystemTests {
    static let smallLimits = """
        limits:
          maxPayloadBytes: 1024
        """

    /// The error code of a broker reply, and its context frames.
    func errorOf(_ reply: [[UInt8]]) -> (WireErrorCode?, [[UInt8]]) {
        guard reply.count >= 4, reply[0] == WireProtocol.versionBytes, reply[1] == bytes("ERROR") else {
            return (nil, [])
        }
        return (WireErrorCode(frame: reply[2]), Array(reply.dropFirst(4)))
    }

    @Test func malformedRequestsOnTheIngestSocketGetErrorsAndTheBrokerKeepsServing() async throws {
        let broker = try await BrokerHarness(config: Self.smallLimits)
        let v = WireProtocol.versionBytes, pub = bytes("PUBLISH")
        // A frame over ZeroMQ's maximum message size: ZeroMQ drops the connection,
        // and the monitor counts it. This sender stays open and is the only ingest
        // client so far, so exactly one disconnection is its own.
        let big = try testContext.socket(.dealer)
        defer { big.close() }
        try big.connect(broker.ingest)
        try big.send(multipart: [
            v, pub, bytes("id-7"), bytes("a.b"), [], [UInt8](repeating: 0, count: 1024 + 70 * 1024),
        ])
        try await waitFor("the oversized sender's disconnection") {
            try await broker.stats().disconnects["ingest"] == 1
        }

        let packed = bytes("PUBLISH-PACKED")
        func pack(_ id: [UInt8], _ topic: String, _ payload: [UInt8] = [1]) -> [UInt8] {
            PackedEvents.frame([IngestCodec.Publish(eventID: id, topic: topic, payload: payload)])
        }
        let cases: [(String, [[UInt8]], WireErrorCode, [[UInt8]])] = [
            // PUBLISH-PACKED (§4.2.6): structure first (101, nothing stored), then each event.
            ("packed: no events frame", [v, packed], .malformedMessage, []),
            ("packed: two frames", [v, packed, pack(bytes("p-1"), "a.b"), []], .malformedMessage, []),
            ("packed: empty", [v, packed, []], .malformedMessage, []),
            ("packed: cut short", [v, packed, Array(pack(bytes("p-2"), "a.b").dropLast())], .malformedMessage, []),
            ("packed: bytes after", [v, packed, pack(bytes("p-3"), "a.b") + [0]], .malformedMessage, []),
            ("packed: garbage", [v, packed, [0xff, 0xfe, 0xfd]], .malformedMessage, []),
            ("packed: missing id", [v, packed, pack([], "a.b")], .missingEventID, []),
            ("packed: bad topic", [v, packed, pack(bytes("p-4"), "a..b")], .invalidTopic, [bytes("p-4")]),
            (
                "packed: payload too large",
                [v, packed, pack(bytes("p-5"), "a.b", [UInt8](repeating: 0, count: 1025))],
                .tooLarge, [bytes("p-5")]
            ),
            ("garbage", [[0xde, 0xad, 0xbe, 0xef]], .unsupportedVersion, []),
            ("old version", [bytes("metro/0"), pub], .unsupportedVersion, []),
            ("no command", [v], .malformedMessage, []),
            ("unknown command", [v, bytes("SUBSCRIBE")], .unknownCommand, []),
            ("too few frames", [v, pub, bytes("id-1"), bytes("a.b"), []], .malformedMessage, [bytes("id-1")]),
            // 2 + 4k frames only (several events per PUBLISH, §4.2.1), and k <= 256.
            (
                "frames not 2 + 4k", [v, pub, bytes("id-2"), bytes("a.b"), [], [], [], [], [], [], []],
                .malformedMessage, [bytes("id-2")]
            ),
            (
                "257 events", [v, pub] + [[UInt8]](repeating: [], count: 4 * 257), .malformedMessage, []
            ),
            ("missing id", [v, pub, [], bytes("a.b"), [], [1]], .missingEventID, []),
            ("id too long", [v, pub, [UInt8](repeating: 65, count: 65), bytes("a.b"), [], [1]], .tooLarge, []),
            ("bad topic", [v, pub, bytes("id-3"), bytes("a..b"), [], [1]], .invalidTopic, [bytes("id-3")]),
            ("reserved topic", [v, pub, bytes("id-4"), bytes("$metro.x"), [], [1]], .invalidTopic, [bytes("id-4")]),
            (
                "long topic", [v, pub, bytes("id-5"), [UInt8](repeating: 97, count: 256), [], [1]], .invalidTopic,
                [bytes("id-5")]
            ),
            (
                "payload too large", [v, pub, bytes("id-6"), bytes("a.b"), [], [UInt8](repeating: 0, count: 1025)],
                .tooLarge,
                [bytes("id-6")]
            ),
        ]
        for (name, frames, code, context) in cases {
            let (got, ctx) = errorOf(try await request(on: broker.ingest, frames))
            #expect(got == code, "\(name)")
            #expect(ctx == context, "\(name)")
        }
        let ok = try await request(on: broker.ingest, [v, pub, bytes("id-ok"), bytes("a.b"), [], [1]])
        #expect(IngestCodec.decodeReply(ok).map { if case .acks = $0 { true } else { false } } == true)
        let packedOK = try await request(on: broker.ingest, [v, packed, pack(bytes("p-ok"), "a.b")])
        #expect(IngestCodec.decodeReply(packedOK) == .acks([.init(eventID: bytes("p-ok"), seq: 2)]))
        let stats = try await broker.stats()
        #expect(stats.rejected == UInt64(cases.count))
        #expect(stats.acked == 2 && stats.accepted == 2)
        #expect(await broker.stop() == 0)
    }

    @Test func malformedRequestsOnTheConsumeSocketGetErrors() async throws {
        let broker = try await BrokerHarness()
        let v = WireProtocol.versionBytes
        let cases: [([[UInt8]], WireErrorCode)] = [
            ([[0x00]], .unsupportedVersion),
            ([v], .malformedMessage),
            ([v, bytes("REWIND")], .unknownCommand),
            ([v, bytes("REPLAY")], .malformedMessage),  // a command since §4.9, without its frames
            ([v, bytes("STATS"), bytes("extra")], .malformedMessage),
            ([v, bytes("STATS"), [], [], [], [], []], .malformedMessage),
        ]
        for (frames, code) in cases {
            #expect(errorOf(try await request(on: broker.consume, frames)).0 == code, "\(frames)")
        }
        #expect(try await broker.stats().rejected == UInt64(cases.count))
        #expect(await broker.stop() == 0)
    }

    @Test func malformedPublishesAreDroppedAndCountedByCause() async throws {
        let broker = try await BrokerHarness(config: Self.smallLimits)
        let live = try await LiveCollector(events: broker.events, prefixes: ["ok."])
        try await closing(live) {

            let pub = try testContext.socket(.pub)
            defer { pub.close() }
            try pub.connect(broker.publish)
            // Wait until the PUB is connected: send valid events until one arrives.
            try await eventually("the PUB connected") {
                try pub.send(multipart: [bytes("ok.first"), bytes("x")])
                return !live.events.isEmpty
            }
            let before = try await broker.stats()
            try pub.send(multipart: [bytes("ok.one-frame")])
            try pub.send(multipart: [bytes("ok.a"), [], [], [1]])
            try pub.send(multipart: [bytes("bad topic"), [1]])
            try pub.send(multipart: [bytes("$metro.heartbeat"), [1]])
            try pub.send(multipart: [bytes("ok.big"), [UInt8](repeating: 0, count: 2000)])
            try pub.send(multipart: [bytes("ok.last"), bytes("{\"k\":1}"), bytes("done")])
            try await eventually("the last valid event") { live.events.contains { $0.topic == "ok.last" } }
            let last = live.events.first { $0.topic == "ok.last" }!
            #expect(last.headers == bytes("{\"k\":1}") && last.payload == bytes("done"))

            let stats = try await broker.stats()
            #expect(stats.dropped["publish_malformed"] == 2)
            #expect(stats.dropped["publish_invalid_topic"] == 2)
            #expect(stats.dropped["publish_too_large"] == 1)
            #expect(stats.accepted == before.accepted + 1)
            #expect(await broker.stop() == 0)
        }
    }

    @Test func garbageOnTheEventsSocketIsIgnored() async throws {
        let broker = try await BrokerHarness()
        // An XSUB may send anything upstream; the broker must shrug it off.
        let xsub = try testContext.socket(.xsub)
        defer { xsub.close() }
        try xsub.connect(broker.events)
        try xsub.send(multipart: [[7, 7, 7], [1, 2]])
        try xsub.send(multipart: [[]])
        try xsub.send(multipart: [[1] + bytes("$metro.hello.bad token")])
        try xsub.send(multipart: [[0] + bytes("never-subscribed")])
        #expect(try await broker.stats().headSeq == 0)
        #expect(await broker.stop() == 0)
    }
}

extension BrokerSystemTests {
    /// Random frames on every socket (a seeded generator, so a failure repeats).
    @Test func randomGarbageOnEverySocketNeverStopsTheBroker() async throws {
        let broker = try await BrokerHarness(config: Self.smallLimits)
        var garbage = GarbageMessages(
            seed: 0x6d65_7472_6f21, version: WireProtocol.versionBytes,
            commands: ["PUBLISH", "PUBLISH-PACKED", "STATS", "ACK"])
        let ingest = try testContext.socket(.dealer)
        let consume = try testContext.socket(.dealer)
        let pub = try testContext.socket(.pub)
        defer { ingest.close(); consume.close(); pub.close() }
        try ingest.connect(broker.ingest)
        try consume.connect(broker.consume)
        try pub.connect(broker.publish)
        for _ in 0..<2000 {
            try ingest.send(multipart: garbage.next())
            try consume.send(multipart: garbage.next())
            _ = try pub.trySend(multipart: garbage.next())
        }
        // Every request got exactly one reply: read them all back.
        var replies = 0, consumeReplies = 0
        try await waitFor("2000 replies on each request socket") {
            while try ingest.receiveMultipart(dontWait: true) != nil { replies += 1 }
            while try consume.receiveMultipart(dontWait: true) != nil { consumeReplies += 1 }
            return replies >= 2000 && consumeReplies >= 2000
        }
        #expect(replies == 2000 && consumeReplies == 2000)
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) { () async throws in
            #expect(try await publisher.publish(topic: "still.alive", payload: [1]) > 0)
            #expect(try await broker.stats().received >= 2000)
            #expect(await broker.stop() == 0)
        }
    }
}
