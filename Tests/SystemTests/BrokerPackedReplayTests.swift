import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

/// The packed replay of protocol.md §4.9.2 against a real broker, read by a raw
/// DEALER: frame boundaries, credit, gaps in the seqs, CANCEL, and bad requests.
extension BrokerSystemTests {
    /// Every record of `publishFixed` is 36 + 6 (id) + 4 (topic) + 16 (payload) bytes.
    static let fixedRecordBytes = 62

    /// Publishes `count` events whose journal records are all `fixedRecordBytes`
    /// long (ids `p-0000`...), on `topics` in turn; returns their seqs.
    /// `mark` (one character) starts the ids, so that later calls are not retries.
    func publishFixed(
        _ publisher: Publisher, count: Int, topics: [String] = ["pk.a"], mark: Character = "p"
    ) async throws -> [UInt64] {
        var seqs: [UInt64] = []
        for i in 0..<count {
            let id = bytes("\(mark)" + String(format: "-%04d", i))
            seqs.append(
                try await publisher.publish(
                    topic: topics[i % topics.count], payload: [UInt8](repeating: 0x61, count: 16), eventID: id))
        }
        return seqs
    }

    @Test func packedFramesHoldWholeRecordsUpToTheBatchSize() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: never\n")
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            let seqs = try await publishFixed(publisher, count: 10)
            let all = ReplayCodec.Request(id: bytes("pk"), start: .seq(0), credit: 0)
            // Exactly three records fill 186 bytes: frames of 3, 3, 3 and the last one.
            let exact = try await packedReplay(
                on: broker.consume, all, batchBytes: UInt32(3 * Self.fixedRecordBytes), window: 1000)
            #expect(exact.frames.map(\.count) == [3, 3, 3, 1])
            #expect(exact.frameBytes.dropLast().allSatisfy { $0 == 3 * Self.fixedRecordBytes })
            #expect(exact.events.map(\.seq) == seqs && exact.caughtUp == seqs.last)
            #expect(!exact.creditExceeded && !exact.damaged)
            // One byte short of three: two per frame.
            let short = try await packedReplay(
                on: broker.consume, all, batchBytes: UInt32(3 * Self.fixedRecordBytes - 1), window: 1000)
            #expect(short.frames.map(\.count) == [2, 2, 2, 2, 2])
            // A batch smaller than one record: each record goes alone, never split.
            let tiny = try await packedReplay(on: broker.consume, all, batchBytes: 1, window: 1000)
            #expect(tiny.frames.map(\.count) == Array(repeating: 1, count: 10))
            #expect(tiny.frameBytes.allSatisfy { $0 == Self.fixedRecordBytes })
            // The default (0): everything in one frame; one event from a seq in the middle.
            let whole = try await packedReplay(on: broker.consume, all, batchBytes: 0, window: 1000)
            #expect(whole.frames.map(\.count) == [10])
            let one = try await packedReplay(
                on: broker.consume, .init(id: bytes("one"), start: .seq(seqs[4]), toSeq: seqs[4], credit: 0),
                batchBytes: 0)
            #expect(one.frames.map { $0.map(\.seq) } == [[seqs[4]]] && one.caughtUp == seqs[4])
            // An event larger than the batch travels alone between full frames.
            let big = try await publisher.publish(
                topic: "pk.a", payload: [UInt8](repeating: 0x62, count: 1000), eventID: bytes("big-0"))
            let after = try await publishFixed(publisher, count: 3, mark: "q")
            let mixed = try await packedReplay(
                on: broker.consume, .init(id: bytes("mix"), start: .seq(seqs[7]), credit: 0),
                batchBytes: UInt32(3 * Self.fixedRecordBytes), window: 1000)
            #expect(mixed.frames.map { $0.map(\.seq) } == [[seqs[7], seqs[8], seqs[9]], [big], after])
            #expect(mixed.frames[1][0].payload.count == 1000)
            #expect(await broker.stop() == 0)
        }
    }

    @Test func packedFramesNeverCarryMoreEventsThanTheCreditLeft() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: never\n")
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            let seqs = try await publishFixed(publisher, count: 50)
            // A window of 7, granted back 3 at a time: no frame may hold more than 7.
            let out = try await packedReplay(
                on: broker.consume, .init(id: bytes("cr"), start: .seq(0), credit: 0), batchBytes: 0, window: 7)
            #expect(!out.creditExceeded)
            #expect(out.frames.allSatisfy { $0.count <= 7 })
            #expect(out.events.map(\.seq) == seqs && out.caughtUp == seqs.last)

            // Credit 2 and none granted: two events, then nothing until CREDIT.
            let c = try ReplayConnection(broker.consume)
            defer { c.close() }
            try c.start(.init(id: bytes("two"), start: .seq(0), credit: 2, packing: 0))
            guard case .packed(_, let first) = try await c.next() else {
                Issue.record("no EVENT-PACKED")
                return
            }
            #expect(PackedReplay.events(first)?.map(\.seq) == Array(seqs[0..<2]))
            try await waitFor("the replay to park without credit") {
                try await broker.stats().activeReplays == 1
            }
            try c.credit(bytes("two"), 100)
            guard case .packed(_, let more) = try await c.next() else {
                Issue.record("no EVENT-PACKED after CREDIT")
                return
            }
            #expect(PackedReplay.events(more)?.map(\.seq) == Array(seqs[2..<50]))
            #expect(try await c.next() == .caughtUp(id: bytes("two"), lastSeq: seqs[49]))
            #expect(await broker.stop() == 0)
        }
    }

    @Test func packedReplayCrossesSeqGapsAndFiltersTopics() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: always\n")
        var publisher = try Publisher(.init(ingest: broker.ingest))
        let before = try await publishFixed(publisher, count: 6, topics: ["pk.a", "pk.b"])
        await publisher.close()
        // A crash: the restarted broker resumes above its reserved seqs (a gap, §4.1).
        await broker.kill9()
        try await broker.restart()
        publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            let after = try await publishFixed(publisher, count: 6, topics: ["pk.a", "pk.b"], mark: "q")
            #expect(after[0] > before.last! + 1)
            let a = try await packedReplay(
                on: broker.consume, .init(id: bytes("gap"), start: .seq(0), credit: 0, prefixes: [bytes("pk.a")]),
                batchBytes: 0, window: 1000)
            let expected = (before + after).enumerated().filter { $0.offset % 6 % 2 == 0 }.map(\.element)
            #expect(a.events.map(\.seq) == expected)
            #expect(a.events.allSatisfy { $0.topic == "pk.a" })
            #expect(a.caughtUp == after.last)
            #expect(await broker.stop() == 0)
        }
    }

    @Test func cancelEndsAPackedReplayThatStillHasEventsToSend() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: never\n")
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            _ = try await publishFixed(publisher, count: 40)
            let c = try ReplayConnection(broker.consume)
            defer { c.close() }
            // Credit for 10 in frames of 4: 4, 4, 2; then it waits for credit.
            try c.start(.init(id: bytes("cx"), start: .seq(0), credit: 10, packing: UInt32(4 * Self.fixedRecordBytes)))
            guard case .packed(_, let first) = try await c.next() else {
                Issue.record("no EVENT-PACKED")
                return
            }
            #expect(PackedReplay.events(first)?.count == 4)
            try c.socket.send(multipart: ReplayCodec.cancelFrames(id: bytes("cx")))
            // CREDIT after CANCEL is ignored; STATS answers on the same connection,
            // after whatever the broker had queued before the CANCEL.
            try c.credit(bytes("cx"), 1000)
            try c.socket.send(multipart: ConsumeCodec.requestFrames(.stats))
            var afterCancel = 0
            while true {
                let frames = try await offPool { try c.socket.receiveMultipart() }
                let f = try #require(frames)
                if f[1] == bytes("STATS") { break }
                #expect(f[1] == ReplayCodec.packedEventsCommand, "only frames sent before the CANCEL")
                afterCancel += PackedReplay.events(f[3])?.count ?? 0
            }
            #expect(4 + afterCancel <= 10)
            // Had the CANCEL been ignored, the CREDIT would have sent the other 30
            // in the turn that answered STATS, before this second STATS.
            let stats = try await broker.stats()
            #expect(stats.activeReplays == 0 && stats.replayed == UInt64(4 + afterCancel))
            #expect(await broker.stop() == 0)
        }
    }

    @Test func badReplayPackedRequestsGetTheDocumentedErrors() async throws {
        let broker = try await BrokerHarness()
        let v = WireProtocol.versionBytes, r = bytes("REPLAY-PACKED"), u64 = [UInt8](repeating: 0, count: 8)
        let credit = [UInt8]([0, 0, 0, 10])
        let cases: [(String, [[UInt8]], WireErrorCode, [[UInt8]])] = [
            ("no batch-bytes", [v, r, bytes("x"), bytes("seq"), u64, u64, credit], .malformedMessage, [bytes("x")]),
            (
                "batch-bytes of 2 bytes", [v, r, bytes("x"), bytes("seq"), u64, u64, credit, [0, 1]],
                .malformedMessage, [bytes("x")]
            ),
            (
                "batch-bytes over 1 MiB", [v, r, bytes("x"), bytes("seq"), u64, u64, credit, [0, 0x10, 0, 1]],
                .invalidArgument, [bytes("x")]
            ),
            (
                "bad kind", [v, r, bytes("x"), bytes("page"), u64, u64, credit, [0, 0, 0, 0]], .invalidArgument,
                [bytes("x")]
            ),
            (
                "65 prefixes",
                [v, r, bytes("x"), bytes("seq"), u64, u64, credit, [0, 0, 0, 0]]
                    + Array(repeating: bytes("a."), count: 65), .malformedMessage, [bytes("x")]
            ),
        ]
        for (name, frames, code, context) in cases {
            let (got, ctx) = errorOf(try await request(on: broker.consume, frames))
            #expect(got == code, "\(name)")
            #expect(ctx == context, "\(name)")
        }
        // 64 prefixes and 1 MiB are allowed: the replay runs (an empty journal: caught up at once).
        let ok =
            [v, r, bytes("ok"), bytes("seq"), u64, u64, credit, [0, 0x10, 0, 0]]
            + Array(repeating: bytes("a."), count: 64)
        let reply = try await request(on: broker.consume, ok)
        #expect(reply[1] == bytes("CAUGHT-UP") && reply[2] == bytes("ok"))
        #expect(await broker.stop() == 0)
    }

    @Test(.enabled("needs python3 with pyzmq") { await DocumentedExample.pyzmqAvailable })
    func thePyzmqPackedReplayExampleOfSection4_9_2Runs() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: never\n")
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            _ = try await publishMany(publisher, count: 2_500, topics: ["video.a", "audio.b"])
            let head = try await broker.stats().headSeq
            let out = try await DocumentedExample.run(
                after: "#### 4.9.2 Packed replay", replacing: ["tcp://127.0.0.1:7704": broker.consume])
            #expect(out.contains("replayed 1250 events, caught up at \(head)"), "\(out)")
            #expect(await broker.stop() == 0)
        }
    }
}
