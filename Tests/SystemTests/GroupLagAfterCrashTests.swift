import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

/// A group's `lag` counts journaled events, not seqs (protocol.md §4.1, §4.5): the
/// up to 2^20 seqs that a broker's crash skips hold no events, so they add
/// nothing, also while the group's position is still below the jump (the
/// 10-minute chaos soak saw a lag of 1,056,321 after a broker kill -9).
@Suite struct GroupLagAfterCrashTests {
    @Test(.timeLimit(.minutes(1)))
    func aGroupBehindACrashJumpLagsByItsEventsNotBySeqs() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: always\n")
        // A group with no member takes nothing: its position stays at 0.
        let v = WireProtocol.versionBytes
        let join = try await request(
            on: broker.consume, [v, bytes("JOIN"), bytes("idle"), bytes("m"), BigEndian.bytes32(0), bytes("{}")])
        #expect(join[1] == bytes("JOINED"))
        let publisher = try Publisher(.init(ingest: broker.ingest))
        let before = try await closing(publisher) {
            try await publishMany(publisher, count: 5, topics: ["job.a"], idPrefix: "before")
        }
        try await eventually("the group's state saved") { FileManager.default.fileExists(atPath: groupsFile(broker)) }
        await broker.kill9()
        try await broker.restart()
        let again = try Publisher(.init(ingest: broker.ingest))
        let after = try await closing(again) {
            try await publishMany(again, count: 5, topics: ["job.a"], idPrefix: "after")
        }
        #expect(after.min()! > before.max()! + 1, "the crash skipped seqs")
        let g = try #require(try await broker.stats().groups["idle"])
        #expect(g.position == 0)
        #expect(g.lag == 10)
        #expect(await broker.stop() == 0)
    }

    private func groupsFile(_ broker: BrokerHarness) -> String {
        broker.journalPath + "/groups.state"
    }
}
