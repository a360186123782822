import MetroProtocol
import Testing

@testable import MetroBroker

/// Replay slots per connection and in all, and credit that saturates at the largest u32.
@Suite struct ReplayTableTests {
    func session(_ peer: String, _ id: String, credit: UInt32 = 0) -> ReplaySession {
        let key = ReplaySession.Key(routingID: Array(peer.utf8), id: Array(id.utf8))
        return ReplaySession(
            key: key, request: .init(id: key.id, start: .seq(0), credit: credit),
            cursor: JournalCursor(base: 1, offset: 8))
    }

    @Test func aConnectionGetsAtMost64AndEndingOneFreesItsSlot() {
        var table = ReplayTable()
        for i in 0..<ReplayTable.maxPerConnection {
            let s = session("a", "r\(i)")
            #expect(table.refusal(for: s.key) == nil)
            table[s.key] = s
        }
        #expect(table.refusal(for: session("a", "r64").key) != nil)
        #expect(table.refusal(for: session("a", "r0").key) == nil)  // replacing takes no new slot
        #expect(table.refusal(for: session("b", "r0").key) == nil)
        table[session("a", "r0").key] = session("a", "r0")  // replaced: still 64
        #expect(table.count(of: Array("a".utf8)) == 64)
        table[session("a", "r1").key] = nil
        #expect(table.count(of: Array("a".utf8)) == 63 && table.count == 63)
        #expect(table.refusal(for: session("a", "r64").key) == nil)
    }

    @Test func creditSaturatesAtTheLargestU32() {
        let s = session("a", "r", credit: .max)
        s.grant(.max)
        #expect(s.credit == UInt64(UInt32.max))
        var g = ConsumerGroup(
            name: "g", config: .init(prefixes: [], ackTimeoutNs: 1, maxDeliveries: 1), position: 0, memberTimeoutNs: 1)
        _ = g.join([1], name: "m", credit: .max, now: 0)
        _ = g.grant([1], credit: .max, now: 0)
        #expect(g.members[[1]]?.credit == UInt64(UInt32.max))
    }

    @Test func aGroupCountsWhatRetentionRemovedAndMovesPastIt() {
        var g = ConsumerGroup(
            name: "g", config: .init(prefixes: [], ackTimeoutNs: 1, maxDeliveries: 1), position: 10, memberTimeoutNs: 1)
        g.expire(first: 11, earliest: 993)
        #expect(g.expired == 982 && g.position == 992)
        g.expire(first: 500, earliest: 900)  // already past: nothing more
        #expect(g.expired == 982 && g.position == 992)
    }

    @Test func aDeliveryWhoseRecordIsGoneIsUndoneAndCountedAsExpired() {
        // Restored after a restart with seq 5 pending (delivered once before).
        var g = ConsumerGroup(
            name: "g", config: .init(prefixes: [], ackTimeoutNs: 1, maxDeliveries: 5), position: 5, pending: [5: 1],
            memberTimeoutNs: 1)
        #expect(g.join([1], name: "m", credit: 1, now: 0) == [.deliver(seq: 5, to: [1], attempt: 2)])
        g.forget(seq: 5)  // the engine found no record for it
        #expect(g.pending.isEmpty && g.expired == 1 && g.redelivered == 0)
        #expect(g.members[[1]]?.credit == 1 && g.members[[1]]?.held.isEmpty == true)
    }
}
