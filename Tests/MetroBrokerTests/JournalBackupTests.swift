import Foundation
import MetroBroker
import MetroProtocol
import Testing

/// `JournalBackup`: a copy of a journal still open for appends, as a broker
/// started on it recovers it.
@Suite struct JournalBackupTests {
    func small() -> Journal.Options {
        var options = Journal.Options()
        options.segmentBytes = 1000
        return options
    }

    /// The last segment is copied up to its last whole record: a record half
    /// written when it was read is left out, as a crash would cut it, and the
    /// sealed segments come with their seal, so the copy opens with nothing cut.
    @Test func aCopyOfAnOpenJournalHoldsItsWholeRecordsAndOpensClean() throws {
        let source = try TempDir()
        let target = try TempDir()
        let j = try Journal(directory: source.path, options: small())
        for s in 1...60 { try j.append(record(UInt64(s))) }
        try j.flush()
        #expect(j.segmentCount > 3)
        // A record being written: its first bytes are in the file, the rest not yet.
        let last = j.segmentPaths.last!
        let end = try recordsEnd(last)
        let handle = try #require(FileHandle(forWritingAtPath: last))
        try handle.seek(toOffset: UInt64(end))
        handle.write(Data(record(61).encoded.prefix(20)))
        try handle.close()

        let copied = try JournalBackup.copyJournal(from: source.path, to: target.path)
        #expect(copied.records == 60 && copied.firstSeq == 1 && copied.lastSeq == 60)
        #expect(copied.segments == j.segmentCount)
        #expect((1...20).contains(copied.cutBytes), "the torn record, to its last non-zero byte")
        try j.close()

        let restored = try Journal(directory: target.path, options: small())
        #expect(restored.lastSeq == 60)
        #expect(restored.recovery.truncatedBytes == 0, "nothing torn in the copy")
        #expect(try allRecords(restored) == (1...60).map { record(UInt64($0)) })
        try restored.append(record(61))
        #expect(try restored.read(61) == record(61))
    }

    /// A sealed segment that does not scan cleanly fails the copy, naming it:
    /// a backup must not silently stop short of what the broker acknowledged.
    @Test func aDamagedSealedSegmentFailsTheCopy() throws {
        let source = try TempDir()
        let target = try TempDir()
        let paths: [String]
        do {
            let j = try Journal(directory: source.path, options: small())
            for s in 1...60 { try j.append(record(UInt64(s))) }
            try j.close()
            paths = j.segmentPaths
        }
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: paths[1])))
        bytes[8 + 40] ^= 0xff
        try Data(bytes).write(to: URL(fileURLWithPath: paths[1]))
        #expect {
            try JournalBackup.copyJournal(from: source.path, to: target.path)
        } throws: { error in
            "\(error)".contains(URL(fileURLWithPath: paths[1]).lastPathComponent) && "\(error)".contains("damaged")
        }
    }

    /// groups.state and seq.reserve are copied whole; a missing one is said, not made.
    @Test func copiesAFileWholeOrSaysItIsMissing() throws {
        let source = try TempDir()
        let target = try TempDir()
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: source.path + "/groups.state"))
        #expect(try JournalBackup.copyFile(named: "groups.state", from: source.path, to: target.path) == 3)
        #expect(try Data(contentsOf: URL(fileURLWithPath: target.path + "/groups.state")) == Data([1, 2, 3]))
        #expect(try JournalBackup.copyFile(named: "seq.reserve", from: source.path, to: target.path) == nil)
        #expect(!FileManager.default.fileExists(atPath: target.path + "/seq.reserve"))
    }
}
