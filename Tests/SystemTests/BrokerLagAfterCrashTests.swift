import Foundation
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

/// After kill -9 the broker resumes above its reserved seqs (protocol.md §4.1),
/// so its head seq jumps by up to 2^20. A group's lag must not: it is measured
/// against the last journaled seq, or every lag alert fires after every crash.
@Suite struct BrokerLagAfterCrashTests {
    @Test func aGroupsLagAfterACrashCountsJournaledEventsNotTheSkippedSeqs() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: always\n")
        let publisher = try testContext.socket(.dealer)
        defer { publisher.close() }
        try publisher.set(.receiveTimeout(milliseconds: 5000))
        try publisher.connect(broker.ingest)
        for i in 0..<10 {
            try publisher.send(multipart: [
                WireProtocol.versionBytes, bytes("PUBLISH"), bytes("lag-\(i)"), bytes("job.a"), [], bytes("x"),
            ])
            let ack = try #require(try await publisher.receiveOffPool())
            #expect(ack[1] == bytes("ACK"))
        }
        // A group that has taken nothing (no credit): its lag is the 10 events.
        let joined = try await request(
            on: broker.consume,
            [WireProtocol.versionBytes, bytes("JOIN"), bytes("idle"), bytes("m"), BigEndian.bytes32(0), bytes("{}")])
        #expect(joined[1] == bytes("JOINED"))
        #expect(try await broker.stats().groups["idle"]?.lag == 10)
        let state = broker.journalPath + "/groups.state"
        try await waitFor("the group saved", timeout: .seconds(10)) { FileManager.default.fileExists(atPath: state) }

        await broker.kill9()
        try await broker.restart()
        let stats = try await broker.stats()
        #expect(stats.headSeq > 10 + 1000, "the head jumped past the reserved block: \(stats.headSeq)")
        #expect(stats.groups["idle"]?.lag == 10, "lag after the crash: \(String(describing: stats.groups["idle"]))")
        #expect(await broker.stop() == 0)
    }
}
