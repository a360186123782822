import Foundation
import MetroBroker
import MetroProtocol
import Testing

/// A fresh folder per test, removed afterwards.
final class TempDir {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("metro-journal-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

func record(_ seq: UInt64, time: UInt64 = 0, payload: Int = 10) -> JournalRecord {
    JournalRecord(
        seq: seq, time: time == 0 ? seq : time, eventID: Array("id-\(seq)".utf8),
        topic: Array("t.x".utf8), headers: [], payload: [UInt8](repeating: UInt8(seq & 0xff), count: payload))
}

/// Where the records of a segment file end (zero-filled space may follow).
func recordsEnd(_ path: String) throws -> Int {
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    var end = 8
    while case .record(let size, _, _) = bytes.withUnsafeBytes({
        JournalRecord.probe(UnsafeRawBufferPointer(rebasing: $0[end...]))
    }) { end += size }
    return end
}

func allRecords(_ j: Journal) throws -> [JournalRecord] {
    var out: [JournalRecord] = []
    try j.forEachRecord { out.append($0) }
    return out
}

/// Opens a journal, appends records 1...`records`, closes it: the path of its
/// last segment (the set-up of the recovery tests).
func closedJournal(records: Int, _ open: () throws -> Journal) throws -> String {
    let j = try open()
    for s in 1...records { try j.append(record(UInt64(s))) }
    try j.close()
    return j.segmentPaths.last!
}

@Suite struct JournalTests {
    @Test func appendFlushReopen() throws {
        let dir = try TempDir()
        do {
            let j = try Journal(directory: dir.path)
            for s in 1...100 { try j.append(record(UInt64(s))) }
            try j.close()
        }
        let j = try Journal(directory: dir.path)
        #expect(j.lastSeq == 100)
        #expect(j.recovery.records == 100)
        #expect(j.recovery.truncatedBytes == 0)
        #expect(try allRecords(j) == (1...100).map { record(UInt64($0)) })
    }

    @Test func segmentsRollAndTheIndexFindsEverySeq() throws {
        let dir = try TempDir()
        var options = Journal.Options()
        options.segmentBytes = 1000
        do {
            let j = try Journal(directory: dir.path, options: options)
            for s in stride(from: 2, through: 400, by: 2) { try j.append(record(UInt64(s))) }
            #expect(j.segmentCount > 10)
            #expect(try j.read(200) == record(200))
            try j.close()
        }
        let j = try Journal(directory: dir.path, options: options)
        #expect(j.segmentCount > 10)
        #expect(j.lastSeq == 400)
        for s in stride(from: 2, through: 400, by: 2) { #expect(try j.read(UInt64(s)) == record(UInt64(s))) }
        #expect(try j.read(3) == nil)
        #expect(try j.read(401) == nil)
        #expect(try j.read(1) == nil)
        // Appending continues in the last segment after a reopen.
        try j.append(record(401))
        #expect(try j.read(401) == record(401))
    }

    @Test func aTornTailIsCutAndTheSeqResumes() throws {
        let dir = try TempDir()
        let path = try closedJournal(records: 10) { try Journal(directory: dir.path) }
        // Cut the file in the middle of the last record (dropping the zero fill after it).
        let handle = FileHandle(forWritingAtPath: path)!
        try handle.truncate(atOffset: UInt64(try recordsEnd(path) - 5))
        try handle.close()

        let j = try Journal(directory: dir.path)
        #expect(j.lastSeq == 9)
        #expect(j.recovery.truncatedBytes == Int64(record(10).encoded.count - 5))
        try j.append(record(11))
        try j.close()
        let again = try Journal(directory: dir.path)
        #expect(try allRecords(again).map(\.seq) == Array(1...9) + [11])
        #expect(again.recovery.truncatedBytes == 0)
    }

    @Test func aCorruptRecordEndsTheJournal() throws {
        let dir = try TempDir()
        let path = try closedJournal(records: 10) { try Journal(directory: dir.path) }
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let recordSize = record(1).encoded.count
        bytes[8 + 5 * recordSize + 40] ^= 0xff  // inside record 6's body
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let j = try Journal(directory: dir.path)
        #expect(j.lastSeq == 5)
        #expect(try allRecords(j).map(\.seq) == Array(1...5))
    }

    @Test func aBrokenSealedIndexIsRebuilt() throws {
        let dir = try TempDir()
        var options = Journal.Options()
        options.segmentBytes = 500
        do {
            let j = try Journal(directory: dir.path, options: options)
            for s in 1...50 { try j.append(record(UInt64(s))) }
            try j.close()
            let firstIndex = j.segmentPaths[0].replacingOccurrences(of: ".seg", with: ".idx")
            try FileManager.default.removeItem(atPath: firstIndex)
        }
        let j = try Journal(directory: dir.path, options: options)
        #expect(j.lastSeq == 50)
        #expect(try j.read(1) == record(1))
    }

    @Test func retentionBySizeRemovesWholeOldSegments() throws {
        let dir = try TempDir()
        var options = Journal.Options()
        options.segmentBytes = 1000
        options.retentionBytes = 3000
        let j = try Journal(directory: dir.path, options: options)
        for s in 1...200 { try j.append(record(UInt64(s))) }
        try j.flush()
        #expect(j.totalBytes <= 3000 + 1000)
        #expect(j.firstSeq > 1)
        #expect(try j.read(1) == nil)
        #expect(try j.read(200) == record(200))
        #expect(try j.read(j.firstSeq) == record(j.firstSeq))
    }

    @Test func retentionByAgeUsesTheInjectedTime() throws {
        let dir = try TempDir()
        var options = Journal.Options()
        options.segmentBytes = 1000
        options.retentionAgeNanoseconds = 1000
        let j = try Journal(directory: dir.path, options: options)
        // Times 1...100: the roll-time check sees only young segments.
        for s in 1...100 { try j.append(record(UInt64(s), time: 10_000 + UInt64(s))) }
        let before = j.segmentCount
        #expect(j.applyRetention(now: 10_000 + 100) == 0)
        // 1000 ns later, every sealed segment (not the active one) is too old.
        let removed = j.applyRetention(now: 10_000 + 100 + 2000)
        #expect(removed == before - 1)
        #expect(j.segmentCount == 1)
        #expect(try j.read(100) == record(100, time: 10_100))
    }

    @Test func seqReservationSurvivesReopen() throws {
        let dir = try TempDir()
        do {
            let r = try SequenceReservation(directory: dir.path)
            #expect(r.limit == 0)
            try r.ensure(1)
            #expect(r.limit == 1 + SequenceReservation.blockSize)
        }
        do {
            let r = try SequenceReservation(directory: dir.path)
            #expect(r.limit == 1 + SequenceReservation.blockSize)
            try r.closeCleanly(last: 17)
        }
        #expect(try SequenceReservation(directory: dir.path).limit == 17)
    }
}

/// A consumer group's lag counts journaled events, not seqs (protocol.md §4.5):
/// a crash's jump of up to 2^20 seqs (§4.1) holds no events and is not lag.
@Suite struct JournalRecordCountTests {
    /// Records 1...10, then (a crash: the next block) 1_048_587...1_048_596, in
    /// one segment or across several, written or still buffered.
    func journal(_ dir: TempDir, segmentBytes: Int64, flush: Bool) throws -> Journal {
        var options = Journal.Options()
        options.segmentBytes = segmentBytes
        let j = try Journal(directory: dir.path, options: options)
        for s in 1...10 { try j.append(record(UInt64(s))) }
        for s in 1_048_587...1_048_596 { try j.append(record(UInt64(s))) }
        if flush { try j.flush() }
        return j
    }

    @Test(arguments: [(Int64(1) << 20, true), (Int64(1) << 20, false), (Int64(200), true), (Int64(200), false)])
    func countsRecordsAcrossTheJump(segmentBytes: Int64, flush: Bool) throws {
        let dir = try TempDir()
        let j = try journal(dir, segmentBytes: segmentBytes, flush: flush)
        #expect(try j.recordCount(after: 0) == 20)
        #expect(try j.recordCount(after: 4) == 16)
        #expect(try j.recordCount(after: 10) == 10)
        #expect(try j.recordCount(after: 500_000) == 10)
        #expect(try j.recordCount(after: 1_048_590) == 6)
        #expect(try j.recordCount(after: 1_048_596) == 0)
        #expect(try j.recordCount(after: 2_000_000) == 0)
    }
}
