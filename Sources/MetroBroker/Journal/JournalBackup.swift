import MetroProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// Copies a broker's data folder (`seq.reserve`, `groups.state`, the journal's
/// segments) into another folder, while the broker may be running, such that a
/// broker started on the copy recovers it as it would after a crash
/// (docs/operations.md, "Backups"; `metro backup` drives it).
///
/// Design: the broker never rewrites what it wrote, so each file can be read
/// beside it:
/// - `groups.state` is replaced by rename, so one read sees one whole version;
/// - a segment other than the last is sealed and never changes again (retention
///   may remove the oldest while the copy runs: it is then skipped);
/// - the last segment is being appended: it is read through a map and scanned
///   with the recovery's own `SegmentScanner`, and only its valid records are
///   written (a record half-written while it was read is a torn tail, cut as a
///   crash would cut it), with an index rebuilt from the scan;
/// - `seq.reserve` is copied last, so its limit covers every seq the journal
///   copy holds: a broker on the copy resumes above it, never reusing a seq a
///   subscriber saw.
/// Every segment is scanned as it is copied, so the copy is also a check: a
/// sealed segment that does not scan cleanly fails the backup, naming it.
/// The caller chooses the order of the parts (`metro backup`: group state
/// first, journal last); each copied file is fdatasynced and the folder fsynced.
package enum JournalBackup {
    package struct Copied: Sendable, Equatable {
        package var segments = 0
        package var records = 0
        package var firstSeq: UInt64 = 0
        package var lastSeq: UInt64 = 0
        package var bytes: Int64 = 0
        /// Bytes of the last segment past its last whole record when it was read
        /// (a record being written): not copied.
        package var cutBytes: Int64 = 0
        /// Segments retention removed between the listing and their copy.
        package var vanished = 0
    }

    package struct Failure: Error, CustomStringConvertible {
        package let description: String
    }

    /// Copies `from/name` to `to/name` if it exists; returns its size, or nil if it does not exist.
    package static func copyFile(named name: String, from: String, to: String) throws -> Int64? {
        let source = from + "/" + name
        let fd = Glibc.open(source, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw JournalError(.open, operation: "open", path: source, errno: errno)
        }
        defer { Glibc.close(fd) }
        let bytes = try FileIO.pread(fd, count: Int(try FileIO.size(fd, path: source)), at: 0, path: source)
        try write(bytes, to: to + "/" + name)
        return Int64(bytes.count)
    }

    /// Copies every segment of the journal in `from` to `to` (which must exist).
    package static func copyJournal(from: String, to: String) throws -> Copied {
        let copied = try walk(from) { base, isLast, mapped, scan in
            let target = JournalSegment(base: base, directory: to, size: 0, records: 0)
            let length = max(Int(scan.validEnd), JournalSegment.magic.count)
            if scan.validEnd < Int64(JournalSegment.magic.count) {
                try write(JournalSegment.magic, to: target.dataPath)
            } else {
                try write(UnsafeRawBufferPointer(rebasing: mapped.bytes.prefix(length)), to: target.dataPath)
            }
            var index = [UInt8]()
            index.reserveCapacity((scan.entries.count + 1) * JournalSegment.indexEntryBytes)
            for e in scan.entries {
                withUnsafeBytes(of: e.seq.littleEndian) { index.append(contentsOf: $0) }
                withUnsafeBytes(of: e.offset.littleEndian) { index.append(contentsOf: $0) }
            }
            if !isLast { index += SealedSegment.sealEntry(size: Int64(length)) }
            try write(index, to: target.indexPath)
            return Int64(length + index.count)
        }
        try FileIO.syncDirectory(to)
        return copied
    }

    /// Reads every segment of a copied (or any closed) journal as the copy and the
    /// recovery would: what it holds, or the first damaged segment named. For
    /// `metro backup verify`.
    package static func verify(_ folder: String) throws -> Copied {
        try walk(folder) { _, _, _, scan in scan.validEnd }
    }

    /// Maps and scans each segment of `folder` in order (the last may end torn:
    /// it is being written, or was when copied), hands each to `body`, which
    /// returns the bytes it accounts for, and sums what they hold.
    private static func walk(
        _ folder: String,
        _ body: (_ base: UInt64, _ isLast: Bool, _ mapped: MappedFile, _ scan: SegmentScanner.Result) throws -> Int64
    ) throws -> Copied {
        let bases = try FileIO.list(folder).compactMap(JournalSegment.base(ofFileName:)).sorted()
        var copied = Copied()
        var after: UInt64 = 0
        for (i, base) in bases.enumerated() {
            let isLast = i == bases.count - 1
            let source = JournalSegment(base: base, directory: folder, size: 0, records: 0)
            guard let mapped = try map(source.dataPath, mayVanish: !isLast && copied.segments == 0) else {
                copied.vanished += 1  // retention removed it since the listing
                continue
            }
            let scan = SegmentScanner.scan(mapped.bytes, after: after)
            if scan.ending == .badMagic || (!isLast && scan.ending != .clean) {
                throw Failure(
                    description:
                        "the journal segment \(source.dataPath) is damaged (\(scan.ending) after \(scan.validEnd) bytes, \(scan.entries.count) records): a copy would not hold what the broker acknowledged"
                )
            }
            copied.bytes += try body(base, isLast, mapped, scan)
            if isLast { copied.cutBytes = scan.dataEnd - scan.validEnd }
            if let first = scan.entries.first, copied.firstSeq == 0 { copied.firstSeq = first.seq }
            if let last = scan.entries.last {
                copied.lastSeq = last.seq
                after = last.seq
            }
            copied.segments += 1
            copied.records += scan.entries.count
        }
        return copied
    }

    /// The segment's map, or nil when it may have vanished and did.
    private static func map(_ path: String, mayVanish: Bool) throws(JournalError) -> MappedFile? {
        do {
            return try MappedFile(path: path)
        } catch {
            if mayVanish && error.errno == ENOENT { return nil }
            throw error
        }
    }

    private static func write(_ bytes: [UInt8], to path: String) throws {
        try bytes.withUnsafeBytes { try write($0, to: path) }
    }

    private static func write(_ bytes: UnsafeRawBufferPointer, to path: String) throws {
        let fd = try FileIO.open(path, flags: O_WRONLY | O_CREAT | O_TRUNC)
        defer { Glibc.close(fd) }
        if !bytes.isEmpty { try FileIO.writeAll(fd, bytes, path: path) }
        try FileIO.sync(fd, path: path)
    }
}
