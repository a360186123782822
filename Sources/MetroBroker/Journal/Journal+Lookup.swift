package import MetroProtocol

#if canImport(Glibc)
    import Glibc
#endif

extension Journal {
    /// Where the record of `seq` lives: found by a binary search over the segments'
    /// base seqs and one over the segment's index file; nil if the journal does not
    /// hold `seq`. Flushes first, so buffered records are found too.
    package func locate(_ seq: UInt64) throws(JournalError) -> (segmentBase: UInt64, offset: Int64)? {
        try flush()
        var lo = 0, hi = segments.count - 1
        guard hi >= 0, seq >= segments[0].base else { return nil }
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if segments[mid].base <= seq { lo = mid } else { hi = mid - 1 }
        }
        let seg = segments[lo]
        guard seg.records > 0, seq >= seg.firstSeq, seq <= seg.lastSeq else { return nil }
        guard let entry = try searchIndex(of: seg, { s, _ in s < seq ? -1 : s == seq ? 0 : 1 }) else { return nil }
        return (seg.base, entry.offset)
    }

    /// A binary search over the index file of `seg` (entries grow in seq and in
    /// offset alike): `order` places an entry before (< 0), at (0) or after (> 0)
    /// the one sought. The entry found, or nil.
    private func searchIndex(
        of seg: JournalSegment, _ order: (_ seq: UInt64, _ offset: Int64) -> Int
    ) throws(JournalError) -> (seq: UInt64, offset: Int64)? {
        let fd = try FileIO.open(seg.indexPath, flags: O_RDONLY)
        defer { Glibc.close(fd) }
        var low = 0, high = seg.records - 1
        while low <= high {
            let mid = (low + high) / 2
            let entry = try FileIO.pread(
                fd, count: JournalSegment.indexEntryBytes,
                at: Int64(mid * JournalSegment.indexEntryBytes), path: seg.indexPath)
            guard entry.count == JournalSegment.indexEntryBytes else { return nil }
            let (s, o) = entry.withUnsafeBytes {
                (
                    UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)),
                    Int64(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: Int64.self))
                )
            }
            let place = order(s, o)
            if place == 0 { return (s, o) }
            if place < 0 { low = mid + 1 } else { high = mid - 1 }
        }
        return nil
    }

    /// How many records the journal holds with a seq above `seq`: a consumer
    /// group's `lag` (protocol.md §4.5). Not `lastSeq − seq`: seqs jump by up to
    /// 2^20 after a crash (§4.1), and the jump holds no events. A segment whose
    /// seqs are dense (no crash inside it, the usual case) is counted from its
    /// first and last seq; only the one segment that holds `seq` and a jump is
    /// searched in its index (the file, then the entries still buffered). It
    /// does not flush: the loop's batch decides when records are written.
    package func recordCount(after seq: UInt64) throws(JournalError) -> UInt64 {
        var count: UInt64 = 0
        for seg in segments where seg.records > 0 && seg.lastSeq > seq {
            if seg.firstSeq > seq {
                count += UInt64(seg.records)
            } else if seg.lastSeq - seg.firstSeq + 1 == UInt64(seg.records) {
                count += seg.lastSeq - seq
            } else {
                count += UInt64(seg.records) - UInt64(try indexPosition(firstAbove: seq, in: seg))
            }
        }
        return count
    }

    /// The index position of the first record of `seg` (the active segment's
    /// last entries may still be in `indexBuffer`) whose seq is above `seq`.
    private func indexPosition(firstAbove seq: UInt64, in seg: JournalSegment) throws(JournalError) -> Int {
        let isActive = seg.base == segments[segments.count - 1].base
        let inFile = seg.records - (isActive ? indexBuffered / JournalSegment.indexEntryBytes : 0)
        let fd = try FileIO.open(seg.indexPath, flags: O_RDONLY)
        defer { Glibc.close(fd) }
        func seqAt(_ i: Int) throws(JournalError) -> UInt64 {
            if i >= inFile {
                let at = (i - inFile) * JournalSegment.indexEntryBytes
                return UInt64(littleEndian: indexBuffer.loadUnaligned(fromByteOffset: at, as: UInt64.self))
            }
            let entry = try FileIO.pread(
                fd, count: 8, at: Int64(i * JournalSegment.indexEntryBytes), path: seg.indexPath)
            guard entry.count == 8 else {
                throw JournalError(.corrupt, operation: "read the index of", path: seg.indexPath, errno: 0)
            }
            return entry.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        }
        var low = 0, high = seg.records
        while low < high {
            let mid = (low + high) / 2
            if try seqAt(mid) > seq { high = mid } else { low = mid + 1 }
        }
        return low
    }

    /// Reads the record of `seq`, or nil if the journal does not hold it. A record
    /// the index points at that is not whole and valid is thrown as `.corrupt`:
    /// damaged, never taken for "not held" (which readers treat as removed by
    /// retention, and forget).
    package func read(_ seq: UInt64) throws(JournalError) -> JournalRecord? {
        guard let (base, offset) = try locate(seq) else { return nil }
        let path = JournalSegment.path(directory, base, "seg")
        let fd = try FileIO.open(path, flags: O_RDONLY)
        defer { Glibc.close(fd) }
        let head = try FileIO.pread(fd, count: JournalRecord.headerBytes, at: offset, path: path)
        let damaged = JournalError(
            .corrupt, operation: "read the record of seq \(seq) at offset \(offset) of", path: path, errno: EILSEQ)
        guard head.count == JournalRecord.headerBytes else { throw damaged }
        let length = head.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
        let whole = try FileIO.pread(fd, count: 8 + length, at: offset, path: path)
        guard let record = JournalRecord(decoding: whole), record.seq == seq else { throw damaged }
        return record
    }

    /// Calls `body` with every record whose time is at least `since` (ns), oldest
    /// first, skipping segments that end before it. Used to refill the dedupe window.
    package func forEachRecord(since: UInt64 = 0, _ body: (JournalRecord) -> Void) throws(JournalError) {
        try flush()
        for seg in segments where seg.records > 0 && seg.lastTime >= since {
            let data = try MappedFile(path: seg.dataPath)
            // Up to the records' end: past it lies zero-filled space, which the
            // syncer may be cutting off a just-sealed segment while we read.
            let end = Int(min(Int64(data.bytes.count), seg.size))
            var offset = JournalSegment.magic.count
            while offset < end {
                let rest = UnsafeRawBufferPointer(rebasing: data.bytes[offset..<end])
                guard case .record(let size, _, let time) = JournalRecord.probe(rest) else { break }
                if time >= since, let r = JournalRecord(decoding: rest) { body(r) }
                offset += size
            }
        }
    }

    /// The seq the index gives the record at `offset` of segment `base`, or nil if
    /// no index entry of that segment points there: how a record whose own bytes
    /// are damaged is named (a group stopped before it, protocol.md §4.10.4). One
    /// binary search over the index by offset (offsets grow with the entries).
    /// Flushes first, so the active segment's buffered entries are in the file.
    func indexedSeq(segmentBase base: UInt64, offset: Int64) throws(JournalError) -> UInt64? {
        try flush()
        guard let seg = segments.first(where: { $0.base == base }), seg.records > 0 else { return nil }
        return try searchIndex(of: seg, { _, o in o < offset ? -1 : o == offset ? 0 : 1 })?.seq
    }

    /// The segment files, oldest first (tools and tests).
    package var segmentPaths: [String] { segments.map(\.dataPath) }
}
