import Foundation
import MetroProtocol
import Testing

@testable import MetroBroker

#if canImport(Glibc)
    import Glibc
#endif

/// Zero-filled space in segment files (protocol.md Appendix B): the writes, the
/// seal, and recovery from every state a crash can leave behind.
@Suite struct JournalZeroFillTests {
    func journal(_ dir: TempDir, segmentBytes: Int64 = 128 << 20, zeroFill: Int64 = 2 << 20) throws -> Journal {
        var options = Journal.Options()
        options.segmentBytes = segmentBytes
        options.zeroFillBytes = zeroFill
        return try Journal(directory: dir.path, options: options)
    }

    func fileSize(_ path: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
    }

    func bytes(_ path: String) throws -> [UInt8] { try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) }

    func write(_ bytes: [UInt8], to path: String, at offset: Int) throws {
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: bytes)
        try handle.close()
    }

    func drain(_ j: Journal) throws -> [UInt64] {
        let c = try j.cursor(atOrAfter: 0)
        var out: [UInt64] = []
        while let r = try c.next(in: j, upTo: .max) { out.append(r.seq) }
        return out
    }

    /// The index's last entry: (seq, offset).
    func lastIndexEntry(_ path: String) throws -> (UInt64, UInt64) {
        let b = try bytes(path.replacingOccurrences(of: ".seg", with: ".idx"))
        return b.withUnsafeBytes {
            (
                UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: b.count - 16, as: UInt64.self)),
                UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: b.count - 8, as: UInt64.self))
            )
        }
    }

    @Test func recordsThenAZeroTailRecoverCleanly() throws {
        let dir = try TempDir()
        let path = try closedJournal(records: 20) { try journal(dir) }
        let end = try recordsEnd(path)
        #expect(try fileSize(path) >= 2 << 20)  // the zero fill outlives a clean close
        try write([UInt8](repeating: 0, count: 100_000), to: path, at: try fileSize(path))

        let j = try journal(dir)
        #expect(j.lastSeq == 20)
        #expect(j.recovery.records == 20)
        #expect(j.recovery.truncatedBytes == 0)
        #expect(try fileSize(path) > end)  // kept: it is the active segment's zero fill
        #expect(try allRecords(j) == (1...20).map { record(UInt64($0)) })
        try j.append(record(21))
        #expect(try j.read(21) == record(21))
    }

    @Test func aTornRecordFollowedByZerosIsCutAndCounted() throws {
        let dir = try TempDir()
        let path = try closedJournal(records: 10) { try journal(dir) }
        // Record 11 half-written over the zero fill: its last byte present is payload (11).
        let torn = Array(record(11).encoded.dropLast(3))
        #expect(torn.last == 11)
        try write(torn, to: path, at: try recordsEnd(path))

        let j = try journal(dir)
        #expect(j.lastSeq == 10)
        #expect(j.recovery.truncatedBytes == Int64(torn.count))
        try j.append(record(11))
        try j.close()
        let again = try journal(dir)
        #expect(try allRecords(again).map(\.seq) == Array(1...11))
        #expect(again.recovery.truncatedBytes == 0)
    }

    @Test func aLostPageBeforeLaterRecordsEndsTheLogThere() throws {
        let dir = try TempDir()
        let path = try closedJournal(records: 10) { try journal(dir) }
        // A crash kept a later page of a write but not the one before it: a zero
        // length where record 11 should start, then record 12's bytes.
        let end = try recordsEnd(path)
        let later = record(12).encoded
        try write(later, to: path, at: end + 4096)

        let j = try journal(dir)
        #expect(j.lastSeq == 10)
        #expect(j.recovery.truncatedBytes == Int64(4096 + later.count))
        try j.append(record(13))
        try j.close()
        #expect(try allRecords(journal(dir)).map(\.seq) == Array(1...10) + [13])
    }

    @Test func sealedSegmentsHaveExactSizesAndASeal() throws {
        let dir = try TempDir()
        let j = try journal(dir, segmentBytes: 4096)
        for s in 1...200 { try j.append(record(UInt64(s), payload: 40)) }
        try j.flush()
        #expect(j.segmentCount > 3)
        for seg in j.segments.dropLast() {
            #expect(try fileSize(seg.dataPath) == Int(seg.size))
            let (seq, offset) = try lastIndexEntry(seg.dataPath)
            #expect(seq == 0 && offset == UInt64(seg.size))
        }
        let active = j.segments[j.segmentCount - 1]
        #expect(try fileSize(active.dataPath) == 4096)  // zero fill stops at segmentBytes
    }

    @Test func aSealedSegmentWithAZeroTailAndNoSealRecovers() throws {
        let dir = try TempDir()
        let paths: [String]
        do {
            let j = try journal(dir, segmentBytes: 4096)
            for s in 1...200 { try j.append(record(UInt64(s), payload: 40)) }
            try j.close()
            paths = j.segmentPaths
        }
        #expect(paths.count > 3)
        // The broker died after the next segment was created, before this one was
        // sealed: its zero tail is still there and its index has no seal entry.
        let victim = paths[1]
        let exact = try fileSize(victim)
        try write([UInt8](repeating: 0, count: 8192), to: victim, at: exact)
        let index = victim.replacingOccurrences(of: ".seg", with: ".idx")
        let handle = try #require(FileHandle(forWritingAtPath: index))
        try handle.truncate(atOffset: UInt64(try fileSize(index) - 16))
        try handle.close()

        let j = try journal(dir, segmentBytes: 4096)
        #expect(j.lastSeq == 200)
        #expect(j.recovery.truncatedBytes == 0)
        #expect(try fileSize(victim) == exact)
        #expect(try lastIndexEntry(victim) == (0, UInt64(exact)))
        #expect(try drain(j) == Array(1...200))
        #expect(try j.read(UInt64(j.segments[1].firstSeq)) == record(j.segments[1].firstSeq, payload: 40))
    }

    @Test func appendsAfterRecoveryContinueAndACursorReadsEverySegment() throws {
        let dir = try TempDir()
        do {
            let j = try journal(dir, segmentBytes: 4096)
            for s in 1...150 { try j.append(record(UInt64(s), payload: 40)) }
            try j.close()
        }
        do {
            let j = try journal(dir, segmentBytes: 4096)
            #expect(j.recovery.truncatedBytes == 0)
            for s in 151...300 { try j.append(record(UInt64(s), payload: 40)) }
            try j.flush()
            #expect(try drain(j) == Array(1...300))
            try j.close()
        }
        let j = try journal(dir, segmentBytes: 4096)
        #expect(j.recovery.truncatedBytes == 0)
        #expect(j.lastSeq == 300)
        #expect(try drain(j) == Array(1...300))
        for s in stride(from: 1, through: 300, by: 37) {
            #expect(try j.read(UInt64(s)) == record(UInt64(s), payload: 40))
        }
    }

    @Test func writesPastTheZeroFillStoreTheSameRecords() throws {
        let dir = try TempDir()
        var options = Journal.Options()
        options.zeroFillBytes = 64 << 10
        options.zeroFillSliceBytes = 16 << 10
        do {
            // No syncer: only the zeros written at open are known synced, and a
            // flush of ~100 KB outruns the 64 KiB lead at once.
            let j = try Journal(directory: dir.path, options: options)
            for round in 0..<5 {
                for s in 1...100 { try j.append(record(UInt64(round * 100 + s), payload: 1000)) }
                try j.flush()
            }
            #expect(j.writesPastZeroFill == 5)
            #expect(j.writesOnZeroFill == 0)
            #expect(try drain(j) == Array(1...500))
            try j.close()
        }
        let j = try Journal(directory: dir.path, options: options)
        #expect(j.recovery.truncatedBytes == 0)
        #expect(try allRecords(j) == (1...500).map { record(UInt64($0), payload: 1000) })
    }

    @Test func withoutZeroFillEveryWriteAppends() throws {
        let dir = try TempDir()
        let j = try journal(dir, zeroFill: 0)
        for s in 1...50 { try j.append(record(UInt64(s))) }
        try j.close()
        #expect(try fileSize(j.segmentPaths[0]) == recordsEnd(j.segmentPaths[0]))
        #expect(j.zeroFillBytesWritten == 0)
        #expect(try allRecords(journal(dir, zeroFill: 0)).count == 50)
    }

    @Test func withTheSyncerWritesLandOnSyncedZeros() throws {
        let dir = try TempDir()
        var options = Journal.Options()
        options.segmentBytes = 128 << 10
        let j = try Journal(directory: dir.path, options: options)
        let syncer = JournalSyncer(directory: dir.path)
        j.attach(syncer)
        syncer.start()
        var seq: UInt64 = 0
        for token in UInt64(1)...60 {
            for _ in 0..<40 {
                seq += 1
                try j.append(record(seq, payload: 100))
            }
            try j.flush()
            syncer.request(token: token, for: j)
            try waitUntilDurable(syncer, token)
        }
        syncer.stop()
        #expect(j.segmentCount > 2)
        // Only a new segment's first flushes (nothing synced there yet) append.
        #expect(j.writesOnZeroFill > 3 * j.writesPastZeroFill)
        for seg in j.segments.dropLast() {  // sealed by the syncer
            #expect(try fileSize(seg.dataPath) == Int(seg.size))
            #expect(try lastIndexEntry(seg.dataPath) == (0, UInt64(seg.size)))
        }
        try j.close()
        let again = try Journal(directory: dir.path, options: options)
        #expect(again.recovery.truncatedBytes == 0)
        #expect(try drain(again) == Array(1...seq))
    }

    /// Waits (on the syncer's wake pipe, 10 s at most) until `token` is durable.
    func waitUntilDurable(_ syncer: JournalSyncer, _ token: UInt64) throws {
        let deadline = ContinuousClock.now + .seconds(10)
        var pfd = pollfd(fd: syncer.wakeFD, events: Int16(POLLIN), revents: 0)
        while syncer.durableToken < token && ContinuousClock.now < deadline {
            _ = poll(&pfd, 1, 100)
            syncer.drainWake()
        }
        try #require(syncer.durableToken >= token)
    }
}

/// The pure parts: where zeros go, and how a scan reads them.
@Suite struct ZeroFillTests {
    func fill(written: Int64 = 8, file: Int64 = 8, limit: Int64 = 1 << 30) -> ZeroFill {
        ZeroFill(
            segmentBase: 7, writtenEnd: written, fileSize: file, limit: limit, leadBytes: 1 << 20,
            sliceBytes: 256 << 10)
    }

    @Test func slicesReachTheLeadOnPageBoundariesAndStopAtTheLimit() {
        var z = fill()
        var slices: [Range<Int64>] = []
        while let s = z.nextSlice(writtenEnd: 8) { slices.append(s) }
        #expect(slices.first == 8..<(256 << 10))
        #expect(slices.dropFirst().allSatisfy { $0.lowerBound % 4096 == 0 && $0.upperBound % 4096 == 0 })
        #expect(z.filledEnd >= (1 << 20) + 8 && z.filledEnd <= (1 << 20) + (256 << 10))
        var capped = fill(limit: 100_000)
        #expect(capped.nextSlice(writtenEnd: 8) == 8..<100_000)
        #expect(capped.nextSlice(writtenEnd: 8) == nil)
    }

    @Test func readinessFollowsTheMarksOfItsOwnSegment() {
        var z = fill()
        _ = z.nextSlice(writtenEnd: 8)
        let mark = z.mark
        #expect(!z.isReady(upTo: 1000))
        z.synced(ZeroFill.Mark(segmentBase: 6, end: mark.end))
        #expect(!z.isReady(upTo: 1000))
        z.synced(mark)
        #expect(z.isReady(upTo: mark.end) && !z.isReady(upTo: mark.end + 1))
        // Data that outran the zeros: the next slice starts after it.
        z.wrote(upTo: mark.end + 5000)
        #expect(z.nextSlice(writtenEnd: mark.end + 5000)?.lowerBound == mark.end + 5000)
    }

    @Test func aFailedSliceStopsTheFill() {
        var z = fill()
        let s = z.nextSlice(writtenEnd: 8)!
        z.failed(s)
        #expect(z.filledEnd == 8)
        #expect(z.nextSlice(writtenEnd: 8) == nil)
    }

    func scan(_ bytes: [UInt8]) -> SegmentScanner.Result {
        bytes.withUnsafeBytes { SegmentScanner.scan($0, after: 0) }
    }

    @Test func theScannerReadsZerosAsTheEnd() {
        let records = JournalSegment.magic + record(1).encoded + record(2).encoded
        let clean = scan(records + [UInt8](repeating: 0, count: 10_000))
        #expect(clean.ending == .clean && clean.entries.count == 2)
        #expect(clean.validEnd == Int64(records.count) && clean.dataEnd == clean.validEnd)
        // Fewer than 4 zero bytes, or none: the same.
        #expect(scan(records + [0, 0]).ending == .clean)
        #expect(scan(records).ending == .clean)
        // A segment whose first page never reached the disk: empty, not foreign.
        let blank = scan([UInt8](repeating: 0, count: 4096))
        #expect(blank.ending == .clean && blank.validEnd == 0)
        #expect(scan(Array("NOTOURS!".utf8) + [0, 0]).ending == .badMagic)
        // Non-zero bytes after a zero length: a torn tail reaching to them.
        var holed = records + [UInt8](repeating: 0, count: 100)
        holed[records.count + 50] = 9
        let torn = scan(holed)
        #expect(torn.ending == .tornTail && torn.dataEnd == Int64(records.count + 51))
    }
}
