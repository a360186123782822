import MetroProtocol
import Testing

@testable import MetroKit

@Suite struct GapFillerTests {
    func ev(_ seq: UInt64, _ topic: String = "a.x") -> LiveEvent {
        LiveEvent(topic: topic, seq: seq, time: seq, eventID: Array("e\(seq)".utf8), headers: [], payload: [])
    }
    func delivered(_ a: [GapFiller.Action]) -> [UInt64] {
        a.compactMap { if case .deliver(let e) = $0 { e.seq } else { nil } }
    }
    func requests(_ a: [GapFiller.Action]) -> [ReplayCodec.Request] {
        a.compactMap {
            guard case .send(let f) = $0, case .replay(let r)? = try? ConsumeCodec.decodeRequest(f, offset: 0).get()
            else { return nil }
            return r
        }
    }

    @Test func catchUpThenLiveWithoutDuplicatesAtTheSeam() {
        var g = GapFiller(prefixes: [], window: 10)
        #expect(g.live(ev(12), now: 0).isEmpty)  // before the hello: held
        let start = g.start(liveFrom: 11, startAt: 0, now: 0)
        let r = requests(start)
        #expect(r.count == 1 && r[0].start == .seq(1) && r[0].credit == 10)
        #expect(g.live(ev(13), now: 0).isEmpty)  // held while catching up
        var out: [UInt64] = []
        for s in 1...12 as ClosedRange<UInt64> { out += delivered(g.replay(.event(id: r[0].id, ev(s)), now: 0)) }
        out += delivered(g.replay(.caughtUp(id: r[0].id, lastSeq: 12), now: 0))
        out += delivered(g.live(ev(14), now: 0))
        #expect(out == Array(1...14))
        #expect(g.ledger.recovered == 12 && g.ledger.duplicatesDropped == 1)  // 12 came twice
        // The catch-up asked for is not a gap (`metro tail --from` once said "gap filled").
        #expect(g.ledger.caughtUp == 12 && g.ledger.catchUpDone)
        #expect(g.ledger.gapsSuspected == 0 && g.ledger.gapsFilled == 0)
    }

    /// A catch-up whose replay fails is carried on by the next fill, still counted
    /// as catch-up; a real gap after it is counted as a gap.
    @Test func aCatchUpAskedAgainIsStillACatchUpAndAGapAfterItIsAGap() {
        var g = GapFiller(prefixes: [], window: 10)
        let first = requests(g.start(liveFrom: 6, startAt: 1, now: 0))
        #expect(!g.ledger.catchUpDone)
        #expect(delivered(g.replay(.event(id: first[0].id, ev(1)), now: 0)) == [1])
        let failed = WireError(.journalFailure, "journal read failed")
        #expect(g.replay(.error(failed, id: first[0].id, seq: nil), now: 0).isEmpty)
        let again = requests(g.heartbeat(head: 6, now: 1))
        #expect(again.first?.start == .seq(1))  // from what is verified; 1 comes again and is dropped
        var out: [UInt64] = []
        for s in 1...6 as ClosedRange<UInt64> { out += delivered(g.replay(.event(id: again[0].id, ev(s)), now: 1)) }
        out += delivered(g.replay(.caughtUp(id: again[0].id, lastSeq: 6), now: 1))
        #expect(out == Array(2...6))
        #expect(g.ledger.caughtUp == 6 && g.ledger.catchUpDone && g.ledger.gapsFilled == 0)
        let gap = requests(g.live(ev(9), now: 2))
        _ = g.replay(.event(id: gap[0].id, ev(8)), now: 2)
        _ = g.replay(.caughtUp(id: gap[0].id, lastSeq: 9), now: 2)
        #expect(g.ledger.gapsFilled == 1 && g.ledger.caughtUp == 6 && g.ledger.recovered == 7)
    }

    @Test func aJumpIsReplayedAndOnlyMissingEventsAreDelivered() {
        var g = GapFiller(prefixes: [Array("a.".utf8)])
        _ = g.start(liveFrom: 0, startAt: nil, now: 0)
        #expect(delivered(g.live(ev(1), now: 0)) == [1])
        let fill = g.live(ev(5), now: 0)  // 2...4 may be lost, or other topics
        let r = requests(fill)
        #expect(delivered(fill).isEmpty && r.first?.start == .seq(2) && r.first?.prefixes == [Array("a.".utf8)])
        var out = delivered(g.replay(.event(id: r[0].id, ev(3)), now: 0))
        out += delivered(g.replay(.event(id: r[0].id, ev(5)), now: 0))
        out += delivered(g.replay(.caughtUp(id: r[0].id, lastSeq: 5), now: 0))
        #expect(out == [3, 5])
        #expect(g.ledger.gapsSuspected == 1 && g.ledger.gapsFilled == 1 && g.ledger.duplicatesDropped == 1)
        #expect(delivered(g.live(ev(6), now: 0)) == [6])
    }

    @Test func aSilenceSeenInAHeartbeatIsChecked() {
        var g = GapFiller(prefixes: [])
        _ = g.start(liveFrom: 10, startAt: nil, now: 0)
        #expect(g.heartbeat(head: 10, now: 0).isEmpty)
        let r = requests(g.heartbeat(head: 12, now: 0))
        #expect(r.first?.start == .seq(11))
        _ = g.replay(.caughtUp(id: r[0].id, lastSeq: 12), now: 0)
        #expect(g.ledger.gapsSuspected == 1 && g.ledger.gapsFilled == 0 && g.verified == 12)
    }

    @Test func rangesTheJournalNoLongerHoldsAreCountedAsLost() {
        var g = GapFiller(prefixes: [])
        let r = requests(g.start(liveFrom: 100, startAt: 1, now: 0))
        let again = requests(
            g.replay(.error(WireError(.sequenceOutOfRange, ""), id: r[0].id, seq: 40), now: 0))
        #expect(g.ledger.lostRanges == 1 && g.ledger.lostSeqs == 39 && again.first?.start == .seq(40))
    }

    /// The broker ends a running replay with 204 when retention removed what it was
    /// about to read (protocol.md §4.9): only the seqs after the last one sent count.
    @Test func aLossInTheMiddleOfAReplayCountsOnlyWhatWasNotSent() {
        var g = GapFiller(prefixes: [])
        let r = requests(g.start(liveFrom: 2000, startAt: 1, now: 0))
        var out: [UInt64] = []
        for s in 1...11 as ClosedRange<UInt64> { out += delivered(g.replay(.event(id: r[0].id, ev(s)), now: 0)) }
        let again = requests(
            g.replay(.error(WireError(.sequenceOutOfRange, ""), id: r[0].id, seq: 993), now: 0))
        #expect(out == Array(1...11))
        #expect(g.ledger.lostRanges == 1 && g.ledger.lostSeqs == 981 && again.first?.start == .seq(993))
        out = delivered(g.replay(.event(id: again[0].id, ev(993)), now: 0))
        #expect(out == [993] && g.verified == 992)
    }

    @Test func aSilentReplayIsAskedAgain() {
        var g = GapFiller(prefixes: [])
        let r = requests(g.start(liveFrom: 5, startAt: 0, now: 0))
        #expect(g.tick(now: 1_000_000_000).isEmpty)
        let retry = g.tick(now: 6_000_000_000)
        #expect(retry.first == .send(ReplayCodec.cancelFrames(id: r[0].id)) && requests(retry).count == 1)
        #expect(requests(retry)[0].id != r[0].id)
    }
}
