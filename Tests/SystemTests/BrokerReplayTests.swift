import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

extension BrokerSystemTests {
    @Test func replayStreamsMatchingEventsInOrderWithinCreditThenCaughtUp() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: never\n  segmentBytes: 65536\n")
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            let seqs = try await publishMany(publisher, count: 10_000, topics: ["r.a", "r.b"])
            let head = try await broker.stats().headSeq
            #expect(try await broker.stats().segments > 5)  // replay crosses segment files

            // Everything on "r.a" from the start: 5,000 events, in seq order, never past the credit.
            let all = try await replay(
                on: broker.consume, .init(id: bytes("all"), start: .seq(0), credit: 0, prefixes: [bytes("r.a")]))
            #expect(all.error == nil && !all.creditExceeded)
            #expect(all.caughtUp == head)
            #expect(all.events.count == 5_000)
            // Publishes ran concurrently: seqs follow arrival, not the index.
            let expected = stride(from: 0, to: 10_000, by: 2).map { seqs[$0] }.sorted()
            #expect(all.events.map { $0.seq } == expected, "replayed seqs differ")
            #expect(all.events.allSatisfy { $0.topic == "r.a" })
            let first = try #require(all.events.first)
            let index = try #require(Int(String(decoding: first.eventID.dropFirst(2), as: UTF8.self)))
            #expect(seqs[index] == first.seq && first.payload.starts(with: bytes("\(index)")))

            // From a seq in the middle (found through the index), to a given seq, every topic.
            let sorted = seqs.sorted()
            let from = sorted[7_000], to = sorted[7_999]
            let middle = try await replay(
                on: broker.consume, .init(id: bytes("mid"), start: .seq(from), toSeq: to, credit: 0))
            #expect(middle.events.map { $0.seq } == Array(sorted[7_000...7_999]), "replayed seqs differ")
            #expect(middle.caughtUp == to)

            // From a time: the events stamped at or after the 9,000th.
            let t = try #require(all.events.first { $0.seq >= sorted[9_000] }).time
            let recent = try await replay(on: broker.consume, .init(id: bytes("t"), start: .time(t), credit: 0))
            #expect(recent.events.first?.time ?? 0 >= t)
            // Broker time does not go back: everything from that event on comes (and
            // perhaps events of the same nanosecond just before it).
            let chosen = try #require(all.events.first { $0.seq >= sorted[9_000] }).seq
            #expect(recent.events.count >= sorted.filter { $0 >= chosen }.count)
            #expect(recent.events.last?.seq == head)

            // From past the head: nothing, caught up at once.
            let none = try await replay(on: broker.consume, .init(id: bytes("none"), start: .seq(head + 1), credit: 0))
            #expect(none.events.isEmpty && none.caughtUp == head)
            #expect(try await broker.stats().replays == 4)
            #expect(await broker.stop() == 0)
        }
    }

    @Test func replayFromASeqTheJournalNoLongerHoldsGets204WithTheEarliest() async throws {
        let broker = try await BrokerHarness(
            config: "journal:\n  fsync: never\n  segmentBytes: 65536\n  retention:\n    maxBytes: 262144\n")
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            _ = try await publishMany(publisher, count: 5_000, topics: ["r.a"], payloadBytes: 100)
            let out = try await replay(on: broker.consume, .init(id: bytes("old"), start: .seq(1), credit: 0))
            #expect(out.error?.code == .sequenceOutOfRange)
            let earliest = try #require(out.errorContext.seq)
            #expect(out.errorContext.id == bytes("old") && earliest > 1)
            let rest = try await replay(on: broker.consume, .init(id: bytes("rest"), start: .seq(earliest), credit: 0))
            let head = try await broker.stats().headSeq
            #expect(rest.events.first?.seq == earliest && rest.caughtUp == head)
            #expect(await broker.stop() == 0)
        }
    }

    @Test func badReplayRequestsGetErrorsAndTheBrokerKeepsServing() async throws {
        let broker = try await BrokerHarness()
        let v = WireProtocol.versionBytes, r = bytes("REPLAY"), u64 = [UInt8](repeating: 0, count: 8)
        let credit = [UInt8]([0, 0, 0, 10])
        let cases: [(String, [[UInt8]], WireErrorCode, [[UInt8]])] = [
            ("too few frames", [v, r, bytes("x"), bytes("seq"), u64], .malformedMessage, [bytes("x")]),
            ("empty id", [v, r, [], bytes("seq"), u64, u64, credit], .invalidArgument, []),
            ("bad kind", [v, r, bytes("x"), bytes("offset"), u64, u64, credit], .invalidArgument, [bytes("x")]),
            ("short from", [v, r, bytes("x"), bytes("seq"), [1], u64, credit], .malformedMessage, [bytes("x")]),
            (
                "garbage credit", [v, r, bytes("x"), bytes("seq"), u64, u64, [9, 9, 9]], .malformedMessage, [bytes("x")]
            ),
            (
                "long prefix", [v, r, bytes("x"), bytes("seq"), u64, u64, credit, [UInt8](repeating: 97, count: 256)],
                .tooLarge, [bytes("x")]
            ),
            ("garbage CREDIT", [v, bytes("CREDIT"), bytes("x"), [1, 2]], .malformedMessage, [bytes("x")]),
            ("CREDIT without credit", [v, bytes("CREDIT"), bytes("x")], .malformedMessage, [bytes("x")]),
            ("CANCEL with extra", [v, bytes("CANCEL"), bytes("x"), [1]], .malformedMessage, [bytes("x")]),
            ("unknown command", [v, bytes("REWIND")], .unknownCommand, []),
        ]
        for (name, frames, code, context) in cases {
            let (got, ctx) = errorOf(try await request(on: broker.consume, frames))
            #expect(got == code, "\(name)")
            #expect(ctx == context, "\(name)")
        }
        // CREDIT and CANCEL for a replay that does not exist (or has ended) are no error.
        let s = try testContext.socket(.dealer)
        defer { s.close() }
        try s.connect(broker.consume)
        try s.send(multipart: ReplayCodec.creditFrames(id: bytes("gone"), credit: 5))
        try s.send(multipart: ReplayCodec.cancelFrames(id: bytes("gone")))
        try s.send(multipart: ConsumeCodec.requestFrames(.stats))
        try s.set(.receiveTimeout(milliseconds: 5000))
        #expect(try await s.receiveOffPool()?[1] == bytes("STATS"))
        let ok = try await replay(on: broker.consume, .init(id: bytes("ok"), start: .seq(0), credit: 0))
        #expect(ok.caughtUp == 0 && ok.events.isEmpty)
        #expect(await broker.stop() == 0)
    }

    @Test(.enabled("needs python3 with pyzmq") { await DocumentedExample.pyzmqAvailable })
    func thePyzmqReplayExampleOfSection4_9Runs() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: never\n")
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            _ = try await publishMany(publisher, count: 2_500, topics: ["video.a", "audio.b"])
            let head = try await broker.stats().headSeq
            let out = try await DocumentedExample.run(
                after: "### 4.9 Replay", replacing: ["tcp://127.0.0.1:7704": broker.consume])
            #expect(out.contains("replayed 1250 events, caught up at \(head)"), "\(out)")
            #expect(await broker.stop() == 0)
        }
    }
}
