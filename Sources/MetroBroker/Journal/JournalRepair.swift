#if canImport(Glibc)
    import Glibc
#endif

/// Puts a damaged sealed segment of a stopped broker's journal back from a
/// backup's copy of the same segment (`metro backup repair-journal`;
/// docs/operations.md, "A consumer group stopped before a damaged record").
///
/// Why it is safe: a sealed segment never changes after its seal (the broker
/// only appends, and only to the active segment), and `metro backup` copies
/// sealed segments byte for byte. So a backup's whole copy of the segment is the
/// segment as the broker wrote it, and putting it back loses nothing: unlike a
/// restore of the whole journal, the events journaled after the backup stay.
///
/// What must hold before a file is replaced (else it is left as it is, and the
/// report says why):
/// - the local segment is sealed and damaged (`JournalScrubber.check`);
/// - the backup's copy is sealed and whole, of the same size;
/// - both index files are byte for byte the same (the index is written beside
///   the records and names every record's seq and offset), and so are the
///   bytes before the damaged record: a backup of another journal, whose
///   segment names may well be the same, fails these;
/// The copy goes to a temporary name, is fsynced, renamed over the damaged
/// file, the folder fsynced; then the segment is checked again.
///
/// The caller holds the folder's `DataFolderLock`: a running broker keeps the
/// old file mapped and would never see the repair.
package enum JournalRepair {
    /// What became of one damaged segment.
    package struct Outcome: Equatable, Sendable, CustomStringConvertible {
        package var segment: String
        /// Where its first damaged record starts, and that record's seq (from the index).
        package var offset: Int64
        package var seq: UInt64?
        /// nil: repaired. Else why it was left as it was.
        package var notRepaired: String?

        package var description: String {
            let at = "damaged record at offset \(offset) (seq \(seq.map(String.init) ?? "unknown"))"
            if let notRepaired { return "\(segment): \(at): NOT repaired: \(notRepaired)" }
            return "\(segment): \(at): repaired from the backup's copy (whole, same index)"
        }
    }

    package struct Report: Sendable {
        /// Sealed segments read.
        package var sealed = 0
        /// Segments not sealed (the last one, being appended when the broker stopped):
        /// the broker's recovery checks those at its start.
        package var unsealed = 0
        package var damaged: [Outcome] = []
        package var allRepaired: Bool { damaged.allSatisfy { $0.notRepaired == nil } }
    }

    /// Checks every segment of `journal` and repairs each damaged sealed one from
    /// the segment of the same name in `backup` (a backup's `broker` folder).
    package static func run(journal: String, backup: String) throws -> Report {
        var report = Report()
        let bases = try FileIO.list(journal).compactMap(JournalSegment.base(ofFileName:)).sorted()
        for base in bases {
            switch try JournalScrubber.check(base: base, in: journal) {
            case .skipped: report.unsealed += 1
            case .whole: report.sealed += 1
            case .damaged(let damage, _):
                report.sealed += 1
                var outcome = Outcome(segment: damage.segment, offset: damage.offset, seq: damage.seq)
                outcome.notRepaired = try repair(base: base, damagedAt: damage.offset, journal: journal, backup: backup)
                report.damaged.append(outcome)
            }
        }
        return report
    }

    /// Replaces one damaged segment; returns why not when it does not.
    private static func repair(base: UInt64, damagedAt offset: Int64, journal: String, backup: String) throws
        -> String?
    {
        let local = JournalSegment(base: base, directory: journal, size: 0, records: 0)
        let copy = JournalSegment(base: base, directory: backup, size: 0, records: 0)
        let size: Int64
        switch try JournalScrubber.check(base: base, in: backup) {
        case .skipped:
            guard access(copy.dataPath, F_OK) == 0 else {
                return
                    "the backup has no copy of it (taken before the segment was written, or after retention removed it)"
            }
            return
                "the backup's copy is not sealed (it was still being written when the backup was taken): use a newer backup"
        case .damaged(let other, _):
            return "the backup's copy is damaged too (at offset \(other.offset)): use another backup"
        case .whole(let bytes): size = bytes
        }
        let localData = try read(local.dataPath)
        guard Int64(localData.count) == size else {
            return "the backup's copy has \(size) bytes, this one \(localData.count): a backup of another journal?"
        }
        guard try read(local.indexPath) == read(copy.indexPath) else {
            return "its index differs from the backup's: a backup of another journal?"
        }
        let data = try read(copy.dataPath)
        guard localData[..<Int(offset)] == data[..<Int(offset)] else {
            return "the records before the damaged one differ from the backup's: a backup of another journal?"
        }
        let temporary = local.dataPath + ".repair"
        let fd = try FileIO.open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC)
        do {
            defer { Glibc.close(fd) }
            try FileIO.writeAll(fd, data, path: temporary)
            try FileIO.sync(fd, path: temporary)
        }
        guard rename(temporary, local.dataPath) == 0 else {
            let e = errno
            unlink(temporary)
            throw JournalError(.write, operation: "rename", path: temporary, errno: e)
        }
        try FileIO.syncDirectory(journal)
        guard case .whole = try JournalScrubber.check(base: base, in: journal) else {
            return "it is still damaged after the copy (a failing disk?)"
        }
        return nil
    }

    private static func read(_ path: String) throws -> [UInt8] {
        let fd = try FileIO.open(path, flags: O_RDONLY)
        defer { Glibc.close(fd) }
        return try FileIO.pread(fd, count: Int(try FileIO.size(fd, path: path)), at: 0, path: path)
    }
}
