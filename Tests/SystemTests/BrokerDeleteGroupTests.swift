import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

/// DELETE (protocol.md §4.10.3) through `metro broker delete-group`: a group with
/// a member stays, one without goes with its position and pending set, durably,
/// and its name can be joined anew. A `metro consume` tried once left a group
/// lagging for good in `metro top` before.
@Suite struct BrokerDeleteGroupTests {
    func deleteGroup(_ broker: BrokerHarness, _ group: String) async -> (Int32?, String, String) {
        guard let p = try? MetroProcess(["broker", "delete-group", group, "--consume", broker.consume]) else {
            return (nil, "", "")
        }
        let status = await p.waitForExit(timeout: .seconds(20))
        return (status, p.stdoutLines.joined(separator: "\n"), p.stderrText)
    }

    @Test func aGroupWithoutMembersIsDeletedDurablyAndItsNameJoinedAnew() async throws {
        let broker = try await BrokerHarness()
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            for i in 0..<5 {
                _ = try await publisher.publish(topic: "video.uploaded", payload: bytes("{}"), eventID: bytes("v\(i)"))
            }
        }
        // A member that takes two deliveries and never ACKs them.
        let member = try MetroProcess([
            "consume", "--consume", broker.consume, "--group", "probe", "--prefix", "video.", "--no-ack", "--window",
            "2", "--member", "held-member",
        ])
        try await member.waitUntilReady()
        try await eventually("two deliveries held") { member.stdoutLines.count == 3 }

        let (refused, _, refusedErr) = await deleteGroup(broker, "probe")
        #expect(refused != 0)
        #expect(
            refusedErr.contains("108") && refusedErr.contains("has 1 member: held-member (heard from "), "\(refusedErr)"
        )
        #expect(refusedErr.contains("a stopped member is dropped "), "\(refusedErr)")
        #expect(try await broker.stats().groups["probe"] != nil)

        member.kill()
        _ = await member.waitForExit()
        try await eventually("the member is lost") { try await broker.stats().groups["probe"]?.members == 0 }
        let (status, out, err) = await deleteGroup(broker, "probe")
        #expect(status == 0, "\(err)")
        #expect(out.contains("deleted group probe (video.)"), "\(out)")
        #expect(out.contains("2 events pending"), "the two it held, waiting for a redelivery: \(out)")
        #expect(try await broker.stats().groups["probe"] == nil)
        #expect(!(try BrokerAdminClient(consumeEndpoint: broker.consume).metrics()).contains("group=\"probe\""))

        let (unknown, _, unknownErr) = await deleteGroup(broker, "probe")
        #expect(unknown != 0)
        #expect(unknownErr.contains("202") && unknownErr.contains("no group probe"), "\(unknownErr)")

        // Durable: a restart does not bring it back.
        try await broker.restart()
        #expect(try await broker.stats().groups["probe"] == nil)

        // The name joined again makes a new group from the journal's start.
        let again = try MetroProcess([
            "consume", "--consume", broker.consume, "--group", "probe", "--prefix", "video.", "--count", "5",
        ])
        #expect(await again.waitForExit(timeout: .seconds(20)) == 0, "\(again.stderrText)")
        #expect(again.stdoutLines.filter { !$0.hasPrefix("ready ") }.count == 5)
        #expect(await broker.stop() == 0)
    }
}
