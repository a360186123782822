import MetroProtocol
import Testing

@testable import MetroKit

/// The gap filler asks for the packed form (protocol.md §4.9.2) and hands its
/// events to the application one by one, as it does EVENTs.
@Suite struct GapFillerPackedTests {
    func ev(_ seq: UInt64) -> LiveEvent {
        LiveEvent(topic: "a.x", seq: seq, time: seq, eventID: Array("e\(seq)".utf8), headers: [], payload: [1])
    }
    func body(_ seqs: ClosedRange<UInt64>) -> [UInt8] {
        PackedReplay.body(
            seqs.map { s in
                let e = ev(s)
                return JournalRecord(
                    seq: e.seq, time: e.time, eventID: e.eventID, topic: Array(e.topic.utf8), headers: e.headers,
                    payload: e.payload)
            })
    }
    func delivered(_ a: [GapFiller.Action]) -> [UInt64] {
        a.compactMap { if case .deliver(let e) = $0 { e.seq } else { nil } }
    }
    func sent(_ a: [GapFiller.Action]) -> [[[UInt8]]] {
        a.compactMap { if case .send(let f) = $0 { f } else { nil } }
    }

    @Test func aPackedCatchUpDeliversEachEventAndGrantsCreditPerEvent() throws {
        var g = GapFiller(prefixes: [], window: 10)
        let start = sent(g.start(liveFrom: 20, startAt: 0, now: 0))
        #expect(start.count == 1 && start[0][1] == Array("REPLAY-PACKED".utf8))
        guard case .replay(let r)? = try? ConsumeCodec.decodeRequest(start[0], offset: 0).get() else {
            Issue.record("not a replay request")
            return
        }
        #expect(r.packing == 0 && r.credit == 10)
        // Two frames of 5 and 7 events: credit goes back in halves of the window, per event.
        let a = g.replay(.packed(id: r.id, records: body(1...5)), now: 0)
        let b = g.replay(.packed(id: r.id, records: body(6...12)), now: 0)
        #expect(delivered(a) + delivered(b) == Array(1...12))
        let credits = sent(a + b).filter { $0[1] == Array("CREDIT".utf8) }
        #expect(credits.count == 2)  // after the 5th and the 10th event
        #expect(credits.allSatisfy { $0[3] == BigEndian.bytes32(5) })
        _ = g.replay(.caughtUp(id: r.id, lastSeq: 20), now: 0)
        #expect(g.verified == 20 && g.ledger.recovered == 12)
    }

    @Test func aDamagedFrameEndsTheFillAndCancelsIt() throws {
        var g = GapFiller(prefixes: [], window: 10)
        let start = sent(g.start(liveFrom: 20, startAt: 0, now: 0))
        guard case .replay(let r)? = try? ConsumeCodec.decodeRequest(start[0], offset: 0).get() else {
            Issue.record("not a replay request")
            return
        }
        var damaged = body(1...3)
        damaged.removeLast()
        let out = g.replay(.packed(id: r.id, records: damaged), now: 0)
        #expect(delivered(out).isEmpty)
        #expect(sent(out) == [ReplayCodec.cancelFrames(id: r.id)])
        #expect(g.fill == nil && g.verified == 0)
        // The next heartbeat replays again.
        #expect(sent(g.heartbeat(head: 20, now: 1)).count == 1)
    }
}
