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

    func request(_ frames: [[UInt8]]) -> ReplayCodec.Request? {
        guard case .replay(let r)? = try? ConsumeCodec.decodeRequest(frames, offset: 0).get() else { return nil }
        return r
    }

    /// A frame that fails its checksum is not a shorter batch: the fill is cancelled
    /// and the range after the last event delivered is asked again per event, where
    /// the broker checks each record and names a damaged one (206). That record alone
    /// is skipped, counted and warned of; the fill goes on packed after it.
    @Test func aDamagedFrameIsAskedAgainPerEventAndTheDamagedRecordAloneIsSkipped() throws {
        var g = GapFiller(prefixes: [], window: 10)
        let r = try #require(request(sent(g.start(liveFrom: 20, startAt: 0, now: 0))[0]))
        #expect(delivered(g.replay(.packed(id: r.id, records: body(1...2)), now: 0)) == [1, 2])
        var damaged = body(3...5)
        damaged.removeLast()
        let out = g.replay(.packed(id: r.id, records: damaged), now: 0)
        #expect(delivered(out).isEmpty)
        let asked = sent(out)
        #expect(asked.count == 2 && asked.first == ReplayCodec.cancelFrames(id: r.id))
        let perEvent = try #require(asked.last.flatMap(request))
        #expect(perEvent.packing == nil && perEvent.start == .seq(3) && perEvent.id != r.id)

        // The broker sends what precedes the damaged record, then 206 with its seq.
        #expect(delivered(g.replay(.event(id: perEvent.id, ev(3)), now: 0)) == [3])
        let skipped = g.replay(
            .error(WireError(.damagedRecord, "damaged"), id: perEvent.id, seq: 4), now: 0)
        #expect(g.ledger.damagedRecords == 1 && g.ledger.lostRanges == 0)
        #expect(
            skipped.contains { if case .warn(let text) = $0 { text.contains("record 4 is damaged") } else { false } })
        let after = try #require(sent(skipped).first.flatMap(request))
        #expect(after.packing == 0 && after.start == .seq(5))
        #expect(delivered(g.replay(.packed(id: after.id, records: body(5...7)), now: 0)) == [5, 6, 7])
        _ = g.replay(.caughtUp(id: after.id, lastSeq: 20), now: 0)
        #expect(g.verified == 20 && g.ledger.catchUpDone && g.fill == nil)
    }

    /// A 206 naming a seq before what this fill asked for (not its record) skips nothing.
    @Test func a206BelowTheFillIsNotASkip() throws {
        var g = GapFiller(prefixes: [], window: 10)
        let r = try #require(request(sent(g.start(liveFrom: 20, startAt: 5, now: 0))[0]))
        let out = g.replay(.error(WireError(.damagedRecord, ""), id: r.id, seq: 2), now: 0)
        #expect(out.isEmpty && g.ledger.damagedRecords == 0 && g.verified == 4 && g.fill == nil)
    }
}
