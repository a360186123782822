import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

extension BrokerSystemTests {
    /// Collects a subscriber's events on a task.
    func collect(_ s: Subscriber) -> (Locked<[LiveEvent]>, Task<Void, Never>) {
        let got = Locked([LiveEvent]())
        let stream = s.events
        let task = Task { for await e in stream { got.withLock { $0.append(e) } } }
        return (got, task)
    }

    @Test func aLateSubscriberGetsAll10000ThenTheLiveStreamWithoutADuplicateAtTheSeam() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: never\n  segmentBytes: 262144\n")
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            let before = try await publishMany(publisher, count: 10_000, topics: ["v.a", "v.b"], idPrefix: "old")
            var options = Subscriber.Options(events: broker.events, prefixes: ["v."])
            options.consume = broker.consume
            options.startAt = 0
            let sub = try Subscriber(options)
            try await closing(sub) {
                let (got, task) = collect(sub)
                defer { task.cancel() }
                // Publish more while the subscriber catches up: the seam moves under it.
                let during = try await publishMany(publisher, count: 2_000, topics: ["v.c"], idPrefix: "mid")
                _ = try await sub.waitUntilLive()
                let after = try await publishMany(publisher, count: 500, topics: ["v.d"], idPrefix: "new")
                let all = (before + during + after).sorted()
                try await eventually("every event") { got.withLock { $0.count } >= all.count }
                let seqs = got.withLock { $0.map(\.seq) }
                #expect(seqs == all, "all \(all.count) events in seq order, each once (got \(seqs.count))")
                let ledger = sub.ledger
                #expect(ledger.recovered >= 10_000 && ledger.lostRanges == 0)
                print("late subscriber ledger: \(ledger)")
                #expect(await broker.stop() == 0)
            }
        }
    }

    @Test func aSubscriberThatStopsReadingRecoversEveryDroppedEventByReplay() async throws {
        let broker = try await BrokerHarness(
            config: "journal:\n  fsync: never\nlimits:\n  sendHighWaterMark: 200\n  receiveHighWaterMark: 1000\n")
        var options = Subscriber.Options(events: broker.events, prefixes: ["w."])
        options.consume = broker.consume
        options.receiveHighWaterMark = 200
        let sub = try Subscriber(options)
        try await closing(sub) {
            let (got, task) = collect(sub)
            defer { task.cancel() }
            _ = try await sub.waitUntilLive()
            sub.pause()
            // 5,000 events of 2 KB (10 MB): far past the high-water marks and socket buffers.
            let seqs = try await publishMany(
                publisher(broker), count: 5_000, topics: ["w.x", "other.y"], payloadBytes: 2048)
            let mine = stride(from: 0, to: 5_000, by: 2).map { seqs[$0] }.sorted()
            sub.resume()
            try await eventually("every event on w.") { got.withLock { $0.count } >= mine.count }
            let received = got.withLock { $0.map(\.seq) }
            #expect(received == mine, "in order, each once (got \(received.count) of \(mine.count))")
            // The last replayed events can arrive before that replay's CAUGHT-UP closes the fill.
            try await eventually("the fill closed") { sub.ledger.gapsFilled > 0 }
            let ledger = sub.ledger
            print("paused subscriber ledger: \(ledger)")
            #expect(ledger.recovered > 0, "drops happened and were recovered")
            #expect(ledger.lostRanges == 0)
            #expect(await broker.stop() == 0)
        }
    }

    private func publisher(_ broker: BrokerHarness) throws -> Publisher {
        try Publisher(.init(ingest: broker.ingest))
    }
}
