import Foundation
import MetroProtocol
import Testing

@testable import MetroBroker

/// The replay cursor over a real journal folder: seeks with the index, reads on
/// across segment files, stops at what is written, skips segments retention removed.
@Suite struct JournalCursorTests {
    func journal(_ dir: TempDir, segmentBytes: Int64 = 4096, retention: Int64 = 0) throws -> Journal {
        var options = Journal.Options()
        options.segmentBytes = segmentBytes
        options.retentionBytes = retention
        return try Journal(directory: dir.path, options: options)
    }

    func drain(_ c: JournalCursor, _ j: Journal, upTo limit: UInt64 = .max) throws -> [UInt64] {
        var out: [UInt64] = []
        while let r = try c.next(in: j, upTo: limit) { out.append(r.seq) }
        return out
    }

    @Test func seeksToAnySeqAndReadsAcrossSegments() throws {
        let dir = try TempDir()
        let j = try journal(dir)
        // Seqs with holes (a crash's reserved block): 1...300, then 1000...1300.
        let seqs = Array(1...300) + Array(1000...1300)
        for s in seqs { try j.append(record(UInt64(s), payload: 40)) }
        try j.flush()
        #expect(j.segmentCount > 10)
        #expect(try drain(j.cursor(atOrAfter: 0), j) == seqs.map(UInt64.init))
        #expect(try drain(j.cursor(atOrAfter: 150), j) == seqs.filter { $0 >= 150 }.map(UInt64.init))
        #expect(try drain(j.cursor(atOrAfter: 500), j).first == 1000)  // inside the hole
        #expect(try drain(j.cursor(atOrAfter: 1301), j).isEmpty)
        #expect(try drain(j.cursor(atOrAfter: 1), j, upTo: 10) == Array(1...10))
    }

    @Test func stopsAtWhatIsWrittenAndGoesOnLater() throws {
        let dir = try TempDir()
        let j = try journal(dir)
        for s in 1...50 { try j.append(record(UInt64(s))) }
        try j.flush()
        let c = try j.cursor(atOrAfter: 0)
        #expect(try drain(c, j) == Array(1...50))
        for s in 51...60 { try j.append(record(UInt64(s))) }
        #expect(try c.next(in: j, upTo: .max) == nil)  // buffered, not yet written
        try j.flush()
        #expect(try drain(c, j) == Array(51...60))
    }

    @Test func aSegmentRemovedByRetentionIsReportedAsLostWithTheRange() throws {
        let dir = try TempDir()
        let j = try journal(dir, segmentBytes: 4096, retention: 3 * 4096)
        for s in 1...20 { try j.append(record(UInt64(s), payload: 40)) }
        try j.flush()
        let c = try j.cursor(atOrAfter: 1)
        #expect(try c.step(in: j, upTo: .max) == .record(record(1, payload: 40)))
        for s in 21...400 { try j.append(record(UInt64(s), payload: 40)) }
        try j.flush()
        let earliest = j.earliestReplayableSeq
        #expect(earliest > 2)
        #expect(try c.step(in: j, upTo: .max) == .lost(first: 2, earliest: earliest))
        let rest = try drain(c, j)
        #expect(rest == Array(earliest...400))
        // A cursor placed below what is held (a group's saved position) reports it too.
        let behind = try j.cursor(atOrAfter: 5)
        #expect(try behind.step(in: j, upTo: .max) == .lost(first: 5, earliest: earliest))
        // From the earliest held seq: everything, no loss.
        #expect(try drain(j.cursor(atOrAfter: earliest), j).first == earliest)
    }

    @Test func rewindAndReleaseKeepOnlyThePosition() throws {
        let dir = try TempDir()
        let j = try journal(dir)
        for s in 1...100 { try j.append(record(UInt64(s), payload: 40)) }
        try j.flush()
        let c = try j.cursor(atOrAfter: 0)
        for s in 1...30 as ClosedRange<UInt64> { #expect(try c.next(in: j, upTo: .max)?.seq == s) }
        #expect(c.holdsDescriptor)
        c.rewind()
        c.release()
        #expect(!c.holdsDescriptor)
        #expect(try drain(c, j) == Array(30...100))
    }

    @Test func aTimeStartScansOneSegment() throws {
        let dir = try TempDir()
        let j = try journal(dir)
        for s in 1...300 { try j.append(record(UInt64(s), time: UInt64(s) * 10, payload: 40)) }
        try j.flush()
        let c = j.cursor(atOrAfterTime: 2000)
        let first = try #require(try c.next(in: j, upTo: .max))
        #expect(first.seq > 1 && first.seq <= 200)  // the segment holding time 2000
        #expect(j.cursor(atOrAfterTime: 10_000).base == j.segments.last!.base)
    }
}
