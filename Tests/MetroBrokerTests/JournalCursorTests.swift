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

    /// Reads every record through `readPacked` with a buffer of `bufferBytes`,
    /// keeping those `keep` takes; the seqs, and the most bytes one call returned.
    func drainPacked(
        _ c: JournalCursor, _ j: Journal, bufferBytes: Int, keep: @escaping (UInt64) -> Bool = { _ in true }
    ) throws -> (seqs: [UInt64], largest: Int) {
        var seqs: [UInt64] = [], largest = 0, size = bufferBytes
        while true {
            var buffer = [UInt8](repeating: 0, count: size)
            let step = try buffer.withUnsafeMutableBytes { raw in
                try c.readPacked(in: j, upTo: .max, into: raw, maxEvents: .max) { r in
                    keep(UInt64(littleEndian: r.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
                }
            }
            switch step {
            case .end, .lost: return (seqs, largest)
            case .needs(let bytes):
                #expect(bytes > size)
                size = bytes
            case .records(let bytes, let events, _, let heldBack):
                #expect(!heldBack)
                largest = max(largest, bytes)
                let frame = PackedReplay.events(Array(buffer[..<bytes])) ?? []
                #expect(frame.count == events)  // whole records, checksums good
                seqs += frame.map(\.seq)
                size = bufferBytes
            }
        }
    }

    @Test func packedReadsTakeWholeRecordsIntoTheCallersBufferAcrossSegments() throws {
        let dir = try TempDir()
        let j = try journal(dir)
        for s in 1...300 { try j.append(record(UInt64(s), payload: 40)) }
        try j.flush()
        #expect(j.segmentCount > 5)
        let all = try drainPacked(j.cursor(atOrAfter: 0), j, bufferBytes: 1000)
        #expect(all.seqs == Array(1...300))
        #expect(all.largest <= 1000 && all.largest > 800)
        // A filter: the kept records are packed at the buffer's start, in order.
        let even = try drainPacked(j.cursor(atOrAfter: 51), j, bufferBytes: 1000) { $0 % 2 == 0 }
        #expect(even.seqs == Array(stride(from: 52, through: 300, by: 2)))
        // A record larger than the buffer is asked for by its size, then read alone.
        try j.append(record(301, payload: 3000))
        try j.append(record(302, payload: 40))
        try j.flush()
        #expect(try drainPacked(j.cursor(atOrAfter: 299), j, bufferBytes: 1000).seqs == [299, 300, 301, 302])
    }

    @Test func packedReadsStopAtTheCreditAndAtTheLimit() throws {
        let dir = try TempDir()
        let j = try journal(dir, segmentBytes: 1 << 20)
        for s in 1...100 { try j.append(record(UInt64(s), payload: 40)) }
        try j.flush()
        let c = try j.cursor(atOrAfter: 0)
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        func read(_ limit: UInt64, maxEvents: Int) throws -> JournalCursor.PackedStep {
            try buffer.withUnsafeMutableBytes { raw in
                try c.readPacked(in: j, upTo: limit, into: raw, maxEvents: maxEvents) { _ in true }
            }
        }
        guard case .records(_, 3, 3, true) = try read(.max, maxEvents: 3) else {
            Issue.record("three events, then held back by the credit")
            return
        }
        // No credit: nothing read, the next record is held back, not skipped.
        guard case .records(0, 0, 0, true) = try read(.max, maxEvents: 0) else {
            Issue.record("held back without credit")
            return
        }
        guard case .records(_, 7, 7, false) = try read(10, maxEvents: 100) else {
            Issue.record("up to the limit")
            return
        }
        #expect(try read(10, maxEvents: 100) == .end)
        #expect(try c.next(in: j, upTo: .max)?.seq == 11)
    }

    /// Flips the byte at `offset` of the first segment's data file.
    func damage(_ j: Journal, at offset: Int) throws {
        let path = j.segments[0].dataPath
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[offset] ^= 0x5a
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test func aDamagedRecordIsAnErrorNeverTheEndOfTheJournal() throws {
        let dir = try TempDir()
        let j = try journal(dir, segmentBytes: 1 << 20)
        for s in 1...20 { try j.append(record(UInt64(s), payload: 40)) }
        try j.flush()
        let sizes = (1...20).map { record(UInt64($0), payload: 40).encoded.count }
        let sixth = 8 + sizes[..<5].reduce(0, +), total = sizes.reduce(0, +)
        // A payload byte of record 6: its checksum fails. The per-event read checks
        // it; a packed read passes the framing on and the client's check refuses
        // the frame (§4.9.2), so the damage is seen end to end either way.
        try damage(j, at: sixth + sizes[5] - 1)
        let stepping = try j.cursor(atOrAfter: 0)
        for s in 1...5 as ClosedRange<UInt64> { #expect(try stepping.next(in: j, upTo: .max)?.seq == s) }
        #expect(throws: JournalError.self) { try stepping.next(in: j, upTo: .max) }
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        let packed = try buffer.withUnsafeMutableBytes { raw in
            try j.cursor(atOrAfter: 0).readPacked(in: j, upTo: .max, into: raw, maxEvents: .max) { _ in true }
        }
        #expect(packed == .records(bytes: total, events: 20, scanned: 20, heldBack: false))
        #expect(PackedReplay.events(Array(buffer[..<total])) == nil)
        // Its length: the framing breaks, and both reads say so where it is. The
        // packed read first returns the five records before it, then throws with the
        // cursor standing at it (where the index names its seq, §4.9).
        try damage(j, at: sixth + sizes[5] - 1)  // undo
        try damage(j, at: sixth + 1)
        #expect(throws: JournalError.self) { try self.drain(j.cursor(atOrAfter: 0), j) }
        let cursor = try j.cursor(atOrAfter: 0)
        let before = try buffer.withUnsafeMutableBytes { raw in
            try cursor.readPacked(in: j, upTo: .max, into: raw, maxEvents: .max) { _ in true }
        }
        #expect(before == .records(bytes: sixth - 8, events: 5, scanned: 5, heldBack: false))
        #expect(throws: JournalError.self) {
            try buffer.withUnsafeMutableBytes { raw in
                try cursor.readPacked(in: j, upTo: .max, into: raw, maxEvents: .max) { _ in true }
            }
        }
        let named = try j.indexedSeq(segmentBase: cursor.base, offset: cursor.offset)
        #expect(cursor.offset == Int64(sixth) && named == 6)
    }
}
