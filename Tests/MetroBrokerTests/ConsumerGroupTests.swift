import Testing

@testable import MetroBroker

/// The group delivery state machine, driven by hand with an injected clock (ns).
@Suite struct ConsumerGroupTests {
    let a: [UInt8] = [1], b: [UInt8] = [2]
    let second: UInt64 = 1_000_000_000

    func group(max: Int = 3, position: UInt64 = 0, pending: [UInt64: Int] = [:]) -> ConsumerGroup {
        ConsumerGroup(
            name: "g", config: .init(prefixes: [], ackTimeoutNs: 10 * second, maxDeliveries: max),
            position: position, pending: pending, memberTimeoutNs: 3 * second)
    }

    func delivered(_ actions: [ConsumerGroup.Action]) -> [(UInt64, [UInt8], Int)] {
        actions.compactMap { if case .deliver(let s, let m, let n) = $0 { (s, m, n) } else { nil } }
    }

    @Test func eachEventGoesToOneMemberWithinItsCredit() {
        var g = group()
        _ = g.join(a, name: "a", credit: 2, now: 0)
        _ = g.join(b, name: "b", credit: 1, now: 0)
        var out: [(UInt64, [UInt8], Int)] = []
        for seq in 1...5 as ClosedRange<UInt64> {
            out += delivered(g.offer(seq: seq, matches: true, now: 0))
        }
        #expect(out.map(\.0) == [1, 2, 3])  // three credits in all
        #expect(out.filter { $0.1 == a }.count == 2 && out.filter { $0.1 == b }.count == 1)
        #expect(g.ready.seqs == [4, 5] && g.wantsEvents == 0)
        // Credit brings the waiting events, oldest first.
        let more = delivered(g.grant(b, credit: 5, now: 0)!)
        #expect(more.map(\.0) == [4, 5] && more.allSatisfy { $0.1 == b })
        #expect(g.wantsEvents == 3)
    }

    @Test func unmatchedEventsOnlyMoveThePosition() {
        var g = group()
        _ = g.join(a, name: "a", credit: 5, now: 0)
        #expect(g.offer(seq: 7, matches: false, now: 0).isEmpty)
        #expect(g.position == 7 && g.pending.isEmpty)
        #expect(g.offer(seq: 7, matches: true, now: 0).isEmpty)  // not past the position
    }

    @Test func ackRemovesTheEventAndUnknownDeliveriesAreRefused() throws {
        var g = group()
        _ = g.join(a, name: "a", credit: 5, now: 0)
        _ = g.join(b, name: "b", credit: 5, now: 0)
        let d = delivered(g.offer(seq: 1, matches: true, now: 0))[0]
        let other = d.1 == a ? b : a
        #expect(throws: ConsumerGroup.CommandError.unknownDelivery) { try g.ack(other, seq: 1, now: 1) }
        #expect(throws: ConsumerGroup.CommandError.unknownDelivery) { try g.ack(d.1, seq: 99, now: 1) }
        #expect(throws: ConsumerGroup.CommandError.notMember) { try g.ack([9], seq: 1, now: 1) }
        _ = try g.ack(d.1, seq: 1, now: 1)
        #expect(g.pending.isEmpty)
        #expect(throws: ConsumerGroup.CommandError.unknownDelivery) { try g.ack(d.1, seq: 1, now: 2) }
    }

    /// ACKS (§4.10.2): the held seqs end, the rest come back as unknown (a repeat
    /// within the message too), the credit is added, and one dispatch follows.
    @Test func acksEndsTheHeldSeqsAndReportsTheOthers() throws {
        var g = group()
        _ = g.join(a, name: "a", credit: 3, batchBytes: 65_536, now: 0)
        _ = g.join(b, name: "b", credit: 3, now: 0)
        for seq in 1...6 as ClosedRange<UInt64> { g.take(seq: seq, matches: true) }
        for seq in 7...8 as ClosedRange<UInt64> { g.take(seq: seq, matches: true) }
        let out = delivered(g.deliverReady(now: 0))
        #expect(out.map(\.0) == [1, 2, 3, 4, 5, 6], "one dispatch hands out all the credit asks for")
        #expect(g.members[a]?.batchBytes == 65_536 && g.members[b]?.batchBytes == nil)
        let mine = out.filter { $0.1 == a }.map(\.0), theirs = out.filter { $0.1 == b }.map(\.0)
        let (actions, unknown) = try g.acks(a, seqs: mine + [mine[0], theirs[0], 99], credit: 2, now: 1)
        #expect(unknown == [mine[0], theirs[0], 99])
        #expect(mine.allSatisfy { g.pending[$0] == nil } && g.pending[theirs[0]]?.member == b)
        #expect(delivered(actions).map(\.0) == [7, 8] && delivered(actions).allSatisfy { $0.1 == a })
        #expect(throws: ConsumerGroup.CommandError.notMember) { try g.acks([9], seqs: [1], credit: 1, now: 1) }
        // No seqs: credit only.
        let (more, none) = try g.acks(b, seqs: [], credit: 1, now: 2)
        #expect(none.isEmpty && more.isEmpty && g.members[b]?.credit == 1)
    }

    /// The tick walks the pending set only once the earliest ACK deadline has
    /// passed: among 100,000 delivered and ACKed events it still finds the one left
    /// unACKed, at its deadline and not before.
    @Test func theTimeoutFindsTheOneEventLeftUnacked() throws {
        var g = group()
        _ = g.join(a, name: "a", credit: 1000, batchBytes: 65_536, now: 0)
        for seq in 1...100_000 as ClosedRange<UInt64> {
            for d in delivered(g.offer(seq: seq, matches: true, now: seq)) where d.0 != 50_000 {
                _ = try g.acks(a, seqs: [d.0], credit: 1, now: seq)
            }
            if seq % 1000 == 0 { #expect(delivered(g.tick(now: seq)).isEmpty) }
        }
        #expect(g.pending.count == 1)
        let stays = g.heartbeat(a, now: 50_000 + 10 * second - 1)  // the member is not lost
        #expect(stays)
        #expect(delivered(g.tick(now: 50_000 + 10 * second - 1)).isEmpty)
        let again = delivered(g.tick(now: 50_000 + 10 * second))
        #expect(again.map(\.0) == [50_000] && again.first?.2 == 2, "\(again)")
        // Extended, it waits for the new deadline, and an earlier one set meanwhile is found first.
        try g.extend(a, seq: 50_000, byNs: 20 * second, now: 50_000 + 10 * second)
        let later = delivered(g.offer(seq: 100_001, matches: true, now: 50_000 + 11 * second))
        #expect(later.map(\.0) == [100_001])
        _ = g.heartbeat(a, now: 50_000 + 21 * second)
        #expect(delivered(g.tick(now: 50_000 + 21 * second)).map(\.0) == [100_001])
        _ = g.heartbeat(a, now: 50_000 + 30 * second)
        #expect(delivered(g.tick(now: 50_000 + 30 * second)).map(\.0) == [50_000])
    }

    @Test func ackTimeoutRedeliversAndExtendPostponesIt() throws {
        var g = group()
        _ = g.join(a, name: "a", credit: 10, now: 0)
        _ = g.offer(seq: 1, matches: true, now: 0)
        _ = g.offer(seq: 2, matches: true, now: 0)
        try g.extend(a, seq: 2, byNs: 60 * second, now: 1)
        _ = g.heartbeat(a, now: 9 * second)
        #expect(g.tick(now: 9 * second).isEmpty)
        _ = g.heartbeat(a, now: 10 * second)
        let again = delivered(g.tick(now: 10 * second))
        #expect(again.count == 1 && again[0].0 == 1 && again[0].2 == 2)  // second attempt
        #expect(g.redelivered == 1 && g.pending[2]?.deliveries == 1)
    }

    @Test func nakRedeliversNowOrAfterItsDelay() throws {
        var g = group()
        _ = g.join(a, name: "a", credit: 10, now: 0)
        _ = g.offer(seq: 1, matches: true, now: 0)
        #expect(delivered(try g.nak(a, seq: 1, delayNs: 0, now: 1)).map(\.2) == [2])
        #expect(try g.nak(a, seq: 1, delayNs: 2 * second, now: 2).isEmpty)
        _ = g.heartbeat(a, now: second)
        #expect(g.tick(now: second).isEmpty)
        _ = g.heartbeat(a, now: 2 * second + 2)
        #expect(delivered(g.tick(now: 2 * second + 2)).map(\.2) == [3])
    }

    @Test func afterTheMaximumDeliveriesAnEventIsDeadLettered() throws {
        var g = group(max: 2)
        _ = g.join(a, name: "a", credit: 10, now: 0)
        _ = g.offer(seq: 5, matches: true, now: 0)
        _ = try g.nak(a, seq: 5, delayNs: 0, now: 1)
        let last = try g.nak(a, seq: 5, delayNs: 0, now: 2)
        #expect(last == [.deadLetter(seq: 5, reason: "nak", deliveries: 2)])
        #expect(g.pending.isEmpty && g.deadLettered == 1)
    }

    @Test func aRejectedEventIsDeadLetteredAtOnceWithItsDetail() throws {
        var g = group(max: 5)
        _ = g.join(a, name: "a", credit: 10, now: 0)
        _ = g.offer(seq: 5, matches: true, now: 0)
        let actions = try g.reject(a, seq: 5, detail: "payload is not JSON", now: 4 * second)
        #expect(actions == [.deadLetter(seq: 5, reason: "rejected", deliveries: 1, detail: "payload is not JSON")])
        #expect(g.pending.isEmpty && g.deadLettered == 1 && g.redelivered == 0 && g.ready.isEmpty)
        #expect(g.durableState.pending.isEmpty, "a restart must not deliver it again")
        #expect(g.members[a]!.held.isEmpty)
        // Counted as the member's heartbeat: it is not lost 3 s after its JOIN.
        #expect(g.tick(now: 4 * second + 1).isEmpty)
        // It is gone: a second REJECT, or an ACK, is 203.
        #expect(throws: ConsumerGroup.CommandError.unknownDelivery) {
            try g.reject(a, seq: 5, detail: "", now: 4 * second + 2)
        }
        #expect(throws: ConsumerGroup.CommandError.unknownDelivery) { try g.ack(a, seq: 5, now: 4 * second + 3) }
    }

    @Test func onlyTheHolderCanRejectADelivery() throws {
        var g = group()
        _ = g.join(a, name: "a", credit: 1, now: 0)
        _ = g.join(b, name: "b", credit: 0, now: 0)
        _ = g.offer(seq: 1, matches: true, now: 0)
        #expect(throws: ConsumerGroup.CommandError.unknownDelivery) { try g.reject(b, seq: 1, detail: "x", now: 1) }
        #expect(throws: ConsumerGroup.CommandError.unknownDelivery) { try g.reject(a, seq: 2, detail: "x", now: 1) }
        #expect(throws: ConsumerGroup.CommandError.notMember) { try g.reject([9], seq: 1, detail: "x", now: 1) }
        #expect(g.pending[1]?.member == a && g.deadLettered == 0)
    }

    @Test func aRejectAfterARedeliveryCountsEveryDelivery() throws {
        var g = group(max: 5)
        _ = g.join(a, name: "a", credit: 1, now: 0)
        _ = g.offer(seq: 1, matches: true, now: 0)
        _ = g.offer(seq: 2, matches: true, now: 0)
        _ = try g.nak(a, seq: 1, delayNs: 0, now: 1)  // credit is the member's to grant
        _ = g.grant(a, credit: 1, now: 2)
        #expect(g.pending[1]?.deliveries == 2)
        _ = g.grant(a, credit: 1, now: 3)
        let actions = try g.reject(a, seq: 1, detail: "bad", now: 4)
        #expect(actions == [.deadLetter(seq: 1, reason: "rejected", deliveries: 2, detail: "bad")])
        #expect(g.pending.keys.sorted() == [2] && g.pending[2]?.member == a && g.deadLettered == 1)
        #expect(g.redelivered == 1)
    }

    @Test func aLostMembersEventsGoToTheOthers() {
        var g = group()
        _ = g.join(a, name: "a", credit: 2, now: 0)
        _ = g.offer(seq: 1, matches: true, now: 0)
        _ = g.offer(seq: 2, matches: true, now: 0)
        _ = g.join(b, name: "b", credit: 5, now: 0)
        _ = g.heartbeat(b, now: 4 * second)
        let actions = g.tick(now: 4 * second)
        #expect(actions.first == .memberLost(a, name: "a"))
        let moved = delivered(actions)
        #expect(moved.map(\.0) == [1, 2] && moved.allSatisfy { $0.1 == b && $0.2 == 2 })
        #expect(g.members.keys.sorted { $0.lexicographicallyPrecedes($1) } == [b])
        // Leaving does the same at once.
        let left = delivered(g.leave(b, now: 4 * second))
        #expect(left.isEmpty && g.ready.seqs == [1, 2])
    }

    @Test func restoredPendingEventsAreDeliveredFirstWithTheirCounts() {
        var g = group(max: 3, position: 100, pending: [41: 2, 40: 1])
        let first = delivered(g.join(a, name: "a", credit: 10, now: 0))
        #expect(first.map(\.0) == [40, 41] && first.map(\.2) == [2, 3])
        let next = delivered(g.offer(seq: 101, matches: true, now: 0))
        #expect(next.map(\.0) == [101] && g.position == 101)
        #expect(g.durableState.pending == [40: 2, 41: 3, 101: 1])
    }
}

@Suite struct GroupRuntimeTests {
    func runtime(_ prefixes: [String]) -> GroupRuntime {
        GroupRuntime(
            state: ConsumerGroup(
                name: "g", config: .init(prefixes: prefixes.map { Array($0.utf8) }, ackTimeoutNs: 1, maxDeliveries: 1),
                position: 0, memberTimeoutNs: 1),
            cursor: JournalCursor(base: 1, offset: 8))
    }

    @Test func reservedTopicsMatchOnlyReservedPrefixes() {
        let all = runtime([])
        #expect(all.matches(Array("video.x".utf8)))
        #expect(!all.matches(Array("$metro.dead.g".utf8)))  // no dead-letter loop
        #expect(runtime(["$metro.dead."]).matches(Array("$metro.dead.g".utf8)))
        #expect(!runtime(["video."]).matches(Array("audio.x".utf8)))
    }
}

/// The ready set stays in seq order without sorting (`ReadySeqs`), so a group
/// with a backlog delivers oldest first, whatever order events come back in.
@Suite struct ReadySeqsTests {
    @Test func insertsInOrderOnceAndRemoves() {
        var r = ReadySeqs()
        for s: UInt64 in [5, 1, 9, 3, 9, 1, 7] { r.insert(s) }
        #expect(r.seqs == [1, 3, 5, 7, 9])
        r.remove(5)
        r.remove(4)
        #expect(r.seqs == [1, 3, 7, 9] && r.contains(7) && !r.contains(5))
        r.removeAll { $0 < 5 }
        #expect(Array(r) == [7, 9] && r.count == 2)
    }

    @Test func aGroupDeliversOldestFirstAfterRequeues() throws {
        let second: UInt64 = 1_000_000_000
        let a: [UInt8] = [1]
        var g = ConsumerGroup(
            name: "g", config: .init(prefixes: [], ackTimeoutNs: 10 * second, maxDeliveries: 5), position: 0,
            pending: [7: 1, 3: 1, 5: 2], memberTimeoutNs: 100 * second)
        #expect(g.ready.seqs == [3, 5, 7])
        for seq in 8...20 as ClosedRange<UInt64> { _ = g.offer(seq: seq, matches: true, now: 0) }
        let first = g.join(a, name: "a", credit: 4, now: 0).compactMap {
            if case .deliver(let s, _, _) = $0 { s } else { nil }
        }
        #expect(first == [3, 5, 7, 8])
        // 5 comes back (NAK): it goes before the rest of the backlog.
        _ = try g.nak(a, seq: 5, delayNs: 0, now: 1)
        _ = try g.ack(a, seq: 3, now: 1)
        let next = g.grant(a, credit: 2, now: 1)!.compactMap {
            if case .deliver(let s, _, _) = $0 { s } else { nil }
        }
        #expect(next.first == 5)
        #expect(g.ready.seqs == Array(10...20))
    }
}
