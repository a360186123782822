import Testing

@testable import MetroBroker

/// protocol.md §4.10 "Heartbeats": every command a member sends for its group
/// (ACK, NAK, EXTEND, even one answered 203, GRANT, HEARTBEAT) resets its silence
/// timer; silence for the member timeout loses it.
@Suite struct ConsumerGroupLivenessTests {
    let a: [UInt8] = [1]
    let second: UInt64 = 1_000_000_000

    func group() -> ConsumerGroup {
        ConsumerGroup(
            name: "g", config: .init(prefixes: [], ackTimeoutNs: 600 * second, maxDeliveries: 5),
            position: 0, memberTimeoutNs: 3 * second)
    }

    func lost(_ actions: [ConsumerGroup.Action]) -> Bool {
        actions.contains { if case .memberLost = $0 { true } else { false } }
    }

    @Test func acksAloneKeepAMemberAlive() throws {
        var g = group()
        _ = g.join(a, name: "a", credit: 100, now: 0)
        // One delivery ACKed every 2 s for 20 s: never 3 s of silence, no HEARTBEAT.
        for i in 1...10 as ClosedRange<UInt64> {
            _ = g.offer(seq: i, matches: true, now: (2 * i - 1) * second)
            _ = try g.ack(a, seq: i, now: 2 * i * second)
            #expect(!lost(g.tick(now: 2 * i * second + second)), "after ACK \(i)")
        }
        #expect(g.members[a] != nil)
        #expect(lost(g.tick(now: 20 * second + 3 * second + 1)), "then 3 s of silence lose it")
    }

    @Test func everyCommandForTheGroupCounts() {
        var g = group()
        _ = g.join(a, name: "a", credit: 1, now: 0)
        _ = g.offer(seq: 1, matches: true, now: 0)
        // 2.5 s apart each, 12.5 s in all: each command resets the timer.
        #expect(throws: ConsumerGroup.CommandError.unknownDelivery) { _ = try g.ack(a, seq: 99, now: 2_500_000_000) }
        #expect(!lost(g.tick(now: 5 * second)))
        try? g.extend(a, seq: 1, byNs: second, now: 5 * second)
        #expect(!lost(g.tick(now: 7_500_000_000)))
        _ = g.grant(a, credit: 1, now: 7_500_000_000)
        #expect(!lost(g.tick(now: 10 * second)))
        _ = g.heartbeat(a, now: 10 * second)
        #expect(!lost(g.tick(now: 12_500_000_000)))
        #expect(lost(g.tick(now: 13 * second + 1)))
    }
}
