import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// What replays cost the broker (protocol.md §4.9, "Cost"): descriptors, memory
/// and slots, under low open-files limits and clients that never grant credit.
extension BrokerSystemTests {
    @Test func theBrokerRaisesItsSoftOpenFilesLimitToTheHardOneAndLogsIt() async throws {
        var mine = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &mine)
        let hard = min(UInt64(mine.rlim_max), 4096)
        try #require(hard > 64, "needs a hard open-files limit above 64")
        let broker = try await BrokerHarness(shell: "ulimit -S -n 64; ulimit -H -n \(hard)")
        let (soft, max) = try broker.openFilesLimit()
        #expect(soft == hard && max == hard)
        // Standard error is collected on another thread than the ready line: wait for it.
        try await waitFor("the limit logged") { broker.process.stderrText.contains("open files limit") }
        #expect(await broker.process.stderrShows("softAtStart=64"), "\(broker.process.stderrText)")
        #expect(await broker.stop() == 0)
    }

    /// A replay whose journal file cannot be opened (the issue's case: a broker
    /// out of descriptors answered CAUGHT-UP having sent nothing) ends with ERROR
    /// 107 and its id, and the same replay streams everything once the files open
    /// again. The read failure is injected (`FaultInjection`: read-only opens of
    /// the segment files fail with EMFILE). An earlier version starved the broker
    /// of descriptors with connections instead; in full runs the replay sometimes
    /// found a free descriptor although the broker had shown the limit reached a
    /// moment before (cause not found; docs/performance.md), so it failed about
    /// one run in three. The descriptor budget itself is covered by the
    /// soft-limit test above and `stalledReplaysHoldNoDescriptorAndNoReadChunk`.
    @Test func aReplayThatCannotOpenTheJournalGets107NotCaughtUp() async throws {
        let faults = try FaultInjection(pathFilter: ".seg")
        let broker = try await BrokerHarness(
            config: "journal:\n  fsync: never\n", environment: try faults.environment)
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            _ = try await publishMany(publisher, count: 100, topics: ["r.a"])
            let client = try ReplayConnection(broker.consume)
            defer { client.close() }
            faults.refuseReadOpens(true)
            let id = bytes("starved")
            try client.start(.init(id: id, start: .seq(0), credit: 1000))
            let (events, end) = try await client.untilEnd()
            #expect(events.isEmpty)
            guard case .error(let error, let eid, _) = end else {
                Issue.record("the replay ended with \(end), not ERROR 107")
                return
            }
            #expect(error.code == .internalError && eid == id)
            try await waitFor("the read failure logged") { broker.process.stderrText.contains("replay read failed") }
            #expect(await broker.process.stderrShows("faultinject: open"))
            // The files open again: the same replay streams everything.
            faults.refuseReadOpens(false)
            try client.start(.init(id: id, start: .seq(0), credit: 1000))
            let (all, done) = try await client.untilEnd()
            let head = try await broker.stats().headSeq
            #expect(all.count == 100 && done == .caughtUp(id: id, lastSeq: head))
            #expect(await broker.stop() == 0)
        }
    }

    /// 64 connections × 64 replays that take no credit over a 0.5 MB journal: each
    /// parks without a descriptor or a read chunk (before: one descriptor and a
    /// 256 KiB chunk each, about 1 GB for 4,096).
    @Test func stalledReplaysHoldNoDescriptorAndNoReadChunk() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: never\n")
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            _ = try await publishMany(publisher, count: 500, topics: ["r.a"], payloadBytes: 1000)
            _ = try await replay(on: broker.consume, .init(id: bytes("warm"), start: .seq(0), credit: 0))
            let rssBefore = try broker.residentBytes(), fdsBefore = try broker.openDescriptors()
            var clients: [ReplayConnection] = []
            defer { for c in clients { c.close() } }
            for c in 0..<64 {
                let client = try ReplayConnection(broker.consume)
                clients.append(client)
                for r in 0..<64 { try client.start(.init(id: bytes("c\(c)-r\(r)"), start: .seq(0), credit: 0)) }
            }
            try await eventually("4,096 replays running") { try await broker.stats().activeReplays == 4096 }
            let rssAfter = try broker.residentBytes(), fdsAfter = try broker.openDescriptors()
            let grown = (rssAfter - rssBefore) >> 20
            print(
                "4,096 credit-0 replays: broker RSS \(rssBefore >> 20) -> \(rssAfter >> 20) MiB, fds \(fdsBefore) -> \(fdsAfter)"
            )
            #expect(grown < 64, "RSS grew \(grown) MiB")
            #expect(fdsAfter - fdsBefore <= 64 + 8, "descriptors \(fdsBefore) -> \(fdsAfter)")
            // Parked, they still serve: credit brings the whole journal.
            try clients[0].credit(bytes("c0-r0"), 1000)
            var got = 0
            while case .event = try await clients[0].next() { got += 1 }
            #expect(got == 500)
            #expect(await broker.stop() == 0)
        }
    }

    @Test func oneConnectionsStalledReplaysCannotLockOthersOut() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: never\n")
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            _ = try await publishMany(publisher, count: 10, topics: ["r.a"])
            // One client asks for every slot and never grants credit.
            let greedy = try ReplayConnection(broker.consume)
            for r in 0..<4096 { try greedy.start(.init(id: bytes("g\(r)"), start: .seq(0), credit: 0)) }
            var refused: [[UInt8]] = []
            while refused.count < 4096 - 64 {
                guard case .error(let e, let id?, _) = try await greedy.next() else { continue }
                #expect(e.code == .unavailable)
                refused.append(id)
            }
            #expect(refused.first == bytes("g64"), "the 65th replay of a connection is refused")
            #expect(try await broker.stats().activeReplays == 64)
            greedy.close()
            // Anyone else still replays.
            let other = try await replay(on: broker.consume, .init(id: bytes("other"), start: .seq(0), credit: 0))
            #expect(other.error == nil && other.events.count == 10)
            #expect(await broker.stop() == 0)
        }
    }
}

extension BrokerSystemTests {
    /// ROUTER reports a gone client only when a send fails, and a replay without
    /// credit is never sent to: an idle replay ends with ERROR 109, which a live
    /// client sees and which removes a gone client's replays.
    @Test func idleReplaysEndWith109SoAGoneClientsReplaysGoAway() async throws {
        let broker = try await BrokerHarness(
            config: "heartbeatIntervalMs: 100\njournal:\n  fsync: never\nlimits:\n  replayIdleMs: 500\n")
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            _ = try await publishMany(publisher, count: 10, topics: ["r.a"])
            let gone = try ReplayConnection(broker.consume)
            for r in 0..<64 { try gone.start(.init(id: bytes("g\(r)"), start: .seq(0), credit: 0)) }
            let live = try ReplayConnection(broker.consume)
            defer { live.close() }
            try live.start(.init(id: bytes("live"), start: .seq(0), credit: 0))
            try await eventually("65 replays waiting") { try await broker.stats().activeReplays == 65 }
            gone.close()
            let end = try await live.next()  // nothing but the end: it never had credit
            guard case .error(let e, let id, _) = end else {
                Issue.record("the idle replay ended with \(end), not ERROR 109")
                return
            }
            #expect(e.code == .unavailable && id == bytes("live"))
            try await eventually("the gone client's replays removed") { try await broker.stats().activeReplays == 0 }
            #expect(await broker.stop() == 0)
        }
    }
}
