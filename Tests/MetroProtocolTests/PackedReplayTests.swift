import Foundation
import MetroProtocol
import MetroTestSupport
import Testing

/// The packed replay of protocol.md §4.9.2: its vectors (Appendix A) and the
/// checks REPLAY-PACKED's extra frame gets.
@Suite struct PackedReplayTests {
    func vector(_ name: String) throws -> [[UInt8]] {
        try #require(ProtocolVectorTests.vectors[name], "vector \(name) missing")
    }

    static let r1 = Array("r1".utf8)

    @Test func theRequestVectorEncodesAndDecodes() throws {
        let request = ReplayCodec.Request(
            id: Self.r1, start: .seq(40), credit: 100, prefixes: [Array("video.".utf8)], packing: 0)
        #expect(request.frames == (try vector("replay-packed-request")))
        #expect(
            (try? ConsumeCodec.decodeRequest(try vector("replay-packed-request"), offset: 0).get()) == .replay(request))
        #expect(request.batchBytes == 65_536)
        // The per-event vector is the same request without the packing frame.
        var plain = try vector("replay-packed-request")
        plain[1] = Array("REPLAY".utf8)
        plain.remove(at: 7)
        #expect(plain == (try vector("replay-request")))
    }

    @Test func theEventVectorHoldsTwoJournalRecords() throws {
        let frames = try vector("replay-event-packed")
        guard case .packed(let id, let records)? = ReplayCodec.decodeReply(frames) else {
            Issue.record("EVENT-PACKED did not decode")
            return
        }
        #expect(id == Self.r1)
        // The first record is vector journal-record, byte for byte (Appendix B).
        let journalRecord = try vector("journal-record")[0]
        #expect(Array(records.prefix(journalRecord.count)) == journalRecord)
        let events = try #require(PackedReplay.events(records))
        let first = try #require(LiveEvent(frames: try vector("live-event")))
        let second = LiveEvent(
            topic: "video.watched", seq: 43, time: 1_700_000_000_000_000_000, eventID: Array("e-2".utf8), headers: [],
            payload: [])
        #expect(events == [first, second])
        let rebuilt = PackedReplay.body(
            events.map {
                JournalRecord(
                    seq: $0.seq, time: $0.time, eventID: $0.eventID, topic: Array($0.topic.utf8), headers: $0.headers,
                    payload: $0.payload)
            })
        #expect(rebuilt == records)
        #expect(ReplayCodec.Reply.packed(id: Self.r1, records: records).encode() == frames)
    }

    @Test func damagedBodiesAreRefusedWhole() throws {
        let records = try vector("replay-event-packed")[3]
        #expect(PackedReplay.events([]) == nil)
        #expect(PackedReplay.events(Array(records.dropLast())) == nil)  // ends inside a record
        #expect(PackedReplay.events(records + [0]) == nil)  // a byte after the last record
        var flipped = records
        flipped[40] ^= 1  // inside the first record: its checksum fails
        #expect(PackedReplay.events(flipped) == nil)
    }

    @Test(arguments: [
        ("batch-bytes of 3 bytes", [UInt8]([0, 0, 1]), WireErrorCode.malformedMessage),
        ("batch-bytes over 1 MiB", [UInt8]([0, 0x10, 0, 1]), WireErrorCode.invalidArgument),
    ])
    func badBatchBytesAreRefusedWithTheReplayID(_ name: String, _ frame: [UInt8], _ code: WireErrorCode) throws {
        var request = try vector("replay-packed-request")
        request[7] = frame
        guard case .failure(let f) = ConsumeCodec.decodeRequest(request, offset: 0) else {
            Issue.record("\(name) accepted")
            return
        }
        #expect(f.error.code == code, "\(name)")
        #expect(f.id == Self.r1, "\(name)")
    }

    @Test func theLimitsOfBatchBytesAndFramesHold() throws {
        var request = try vector("replay-packed-request")
        request[7] = [0, 0x10, 0, 0]  // exactly 1 MiB: the largest
        guard case .success(.replay(let r)) = ConsumeCodec.decodeRequest(request, offset: 0) else {
            Issue.record("1 MiB refused")
            return
        }
        #expect(r.batchBytes == 1 << 20)
        // Too few frames (no batch-bytes at all) is 101 with the id; 64 prefixes pass, 65 do not.
        let short = Array(request.prefix(7))
        #expect((try? ConsumeCodec.decodeRequest(short, offset: 0).get()) == nil)
        if case .failure(let f) = ConsumeCodec.decodeRequest(short, offset: 0) {
            #expect(f.error.code == .malformedMessage && f.id == Self.r1)
        }
        let prefixes = Array(request.prefix(8))
        let full = prefixes + Array(repeating: Array("video.".utf8), count: 64)
        #expect((try? ConsumeCodec.decodeRequest(full, offset: 0).get()) != nil)
        if case .failure(let f) = ConsumeCodec.decodeRequest(full + [Array("x".utf8)], offset: 0) {
            #expect(f.error.code == .malformedMessage && f.id == Self.r1)
        } else {
            Issue.record("65 prefixes accepted")
        }
    }
}
