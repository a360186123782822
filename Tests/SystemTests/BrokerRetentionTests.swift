import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

/// Replay and consumer groups when retention removes events they have not read
/// yet (protocol.md §4.9, §4.10 "Retention"): reported or counted, never skipped
/// silently.
extension BrokerSystemTests {
    /// 64 KiB segments, 256 KiB kept: about four segments of 1 KB events.
    static let smallRetention =
        "heartbeatIntervalMs: 200\njournal:\n  fsync: never\n  segmentBytes: 65536\n  retention:\n    maxBytes: 262144\n"

    @Test func aRunningReplayThatRetentionOvertakesEndsWith204InsteadOfSkipping() async throws {
        let broker = try await BrokerHarness(config: Self.smallRetention)
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            let first = try await publishMany(publisher, count: 200, topics: ["r.a"], payloadBytes: 1000).sorted()
            let client = try ReplayConnection(broker.consume)
            defer { client.close() }
            let id = bytes("slow")
            try client.start(.init(id: id, start: .seq(0), credit: 10))
            var seen: [UInt64] = []
            for _ in 0..<10 {
                guard case .event(_, let e) = try await client.next() else { Issue.record("expected an EVENT"); return }
                seen.append(e.seq)
            }
            #expect(seen == Array(first.prefix(10)))
            // Retention now removes the segments the replay was about to read.
            _ = try await publishMany(publisher, count: 1_000, topics: ["r.a"], idPrefix: "more", payloadBytes: 1000)
            let probe = try await replay(on: broker.consume, .init(id: bytes("probe"), start: .seq(1), credit: 0))
            let earliest = try #require(probe.errorContext.seq, "retention removed the first segments")
            #expect(earliest > first[10])
            // STATS says the same (the service runtime's inbox retention reads it).
            #expect(try await broker.stats().firstSeq == earliest)
            try client.credit(id, 100_000)
            let (events, end) = try await client.untilEnd()
            seen += events.map(\.seq)
            // Every event before the loss came, with no hole; then 204 names where the journal resumes.
            #expect(seen == Array(first.prefix(seen.count)), "no seq skipped silently: \(seen.suffix(3))")
            #expect(seen.last.map { $0 < earliest } ?? true)
            guard case .error(let error, let eid, let at) = end else {
                Issue.record("the replay ended with \(end), not ERROR 204")
                return
            }
            #expect(error.code == .sequenceOutOfRange && eid == id && at == earliest)
            // The client replays from there and gets the rest.
            try client.start(.init(id: id, start: .seq(earliest), credit: 100_000))
            let (rest, restEnd) = try await client.untilEnd()
            let head = try await broker.stats().headSeq
            #expect(rest.first?.seq == earliest && restEnd == .caughtUp(id: id, lastSeq: head))
            #expect(await broker.stop() == 0)
        }
    }

    @Test func aGroupSkipsAndCountsEventsRetentionRemovedBeforeItReadOrAckedThem() async throws {
        let broker = try await BrokerHarness(config: Self.smallRetention)
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            let first = try await publishMany(publisher, count: 200, topics: ["job.a"], payloadBytes: 1000).sorted()
            let v = WireProtocol.versionBytes, g = bytes("workers")
            func join(_ credit: UInt32) async throws -> Socket {
                let s = try testContext.socket(.dealer)
                try s.set(.receiveTimeout(milliseconds: 5000))
                try s.connect(broker.consume)
                try s.send(multipart: [v, bytes("JOIN"), g, bytes("m"), BigEndian.bytes32(credit), bytes("{}")])
                let joined = try #require(try await s.receiveOffPool())
                #expect(joined[1] == bytes("JOINED"))
                return s
            }
            // A member takes 10 events and holds them (no ACK); the group reads no further.
            let member = try await join(10)
            var held: [UInt64] = []
            for _ in 0..<10 {
                let m = try #require(try await member.receiveOffPool())
                #expect(m[1] == bytes("DELIVER"))
                held.append(try #require(BigEndian.uint64(m[3])))
            }
            #expect(held == Array(first.prefix(10)))
            member.close()
            // A graceful restart: the group keeps its 10 pending events and its position,
            // but no longer has their records in memory.
            #expect(await broker.stop() == 0)
            try await broker.restart()
            _ = try await publishMany(publisher, count: 1_000, topics: ["job.a"], idPrefix: "more", payloadBytes: 1000)
            let probe = try await replay(on: broker.consume, .init(id: bytes("probe"), start: .seq(1), credit: 0))
            let earliest = try #require(probe.errorContext.seq, "retention removed the first segments")
            #expect(earliest > first[10])

            let again = try await join(100_000)
            defer { again.close() }
            var delivered: [UInt64] = []
            let head = try await broker.stats().headSeq
            while delivered.last != head {
                let m = try #require(try await again.receiveOffPool())
                guard m[1] == bytes("DELIVER") else { continue }
                let seq = try #require(BigEndian.uint64(m[3]))
                delivered.append(seq)
                try again.send(multipart: [v, bytes("ACK"), g, m[3]])
            }
            // Nothing below the earliest held seq comes; everything from it does, once.
            #expect(
                delivered.first == earliest && delivered == delivered.sorted()
                    && Set(delivered).count == delivered.count)
            // Counted: the 10 pending events whose records are gone, and seqs 11 ..< earliest never read.
            // (The ACKs travel on the member's connection, STATS on another: wait for them.)
            try await eventually("all ACKed") { try await broker.stats().groups["workers"]?.pending == 0 }
            let stats = try #require(try await broker.stats().groups["workers"])
            #expect(stats.expired == earliest - first[0] && stats.lag == 0 && stats.redelivered == 0, "\(stats)")
            // Standard error arrives on its own pipe, after the replies: wait for the lines.
            try await waitFor("the skip logged") {
                broker.process.stderrText.contains("retention removed events before the group read them")
                    && broker.process.stderrText.contains("a pending event's record is gone")
            }
            #expect(await broker.stop() == 0)
        }
    }
}
