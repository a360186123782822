import Testing

@testable import MetroBroker

/// protocol.md §4.10 "Redelivery": a member whose connection closes is lost at
/// once (`ConsumerGroup.lose`), and the engine knows which member a closed
/// descriptor carried (`MemberConnections`).
@Suite struct MemberLossTests {
    let a: [UInt8] = [0, 0, 0, 0, 1]
    let b: [UInt8] = [0, 0, 0, 0, 2]

    @Test func aLostMembersEventsGoToTheOtherAtOnceWithTheNextAttempt() {
        var g = ConsumerGroup(
            name: "g", config: .init(prefixes: [], ackTimeoutNs: 30_000_000_000, maxDeliveries: 5),
            position: 0, memberTimeoutNs: 3_000_000_000)
        _ = g.join(a, name: "a", credit: 2, now: 0)
        _ = g.offer(seq: 1, matches: true, now: 0)
        _ = g.offer(seq: 2, matches: true, now: 0)
        _ = g.join(b, name: "b", credit: 5, now: 0)
        #expect(g.members[a]?.held == [1, 2])
        let actions = g.lose(a, now: 10)
        #expect(
            actions == [
                .memberLost(a, name: "a"), .deliver(seq: 1, to: b, attempt: 2), .deliver(seq: 2, to: b, attempt: 2),
            ])
        #expect(g.members[a] == nil && g.redelivered == 2)
        #expect(g.lose(a, now: 20).isEmpty, "a member already lost is lost once")
    }

    @Test func aLastDeliveryLostWithItsMemberIsDeadLettered() {
        var g = ConsumerGroup(
            name: "g", config: .init(prefixes: [], ackTimeoutNs: 30_000_000_000, maxDeliveries: 1),
            position: 0, memberTimeoutNs: 3_000_000_000)
        _ = g.join(a, name: "a", credit: 1, now: 0)
        _ = g.offer(seq: 7, matches: true, now: 0)
        #expect(
            g.lose(a, now: 1) == [
                .memberLost(a, name: "a"), .deadLetter(seq: 7, reason: "member-lost", deliveries: 1),
            ])
    }

    @Test func aClosedDescriptorNamesTheMemberItCarriedOnce() {
        var c = MemberConnections()
        c.record(fd: 12, routingID: a)
        #expect(c.closed(fd: 11) == nil)
        #expect(c.closed(fd: 12) == a)
        #expect(c.closed(fd: 12) == nil)
        #expect(c.count == 0)
    }

    @Test func aDescriptorReusedByANewMemberNamesTheNewOneOnceTheOldCloseIsRead() {
        var c = MemberConnections()
        c.record(fd: 12, routingID: a)
        // a's connection closed and b joined on the reused 12: the engine reads the
        // close before it records b, so the close names a, the next one b.
        #expect(c.closed(fd: 12) == a)
        c.record(fd: 12, routingID: b)
        #expect(c.closed(fd: 12) == b)
    }
}
