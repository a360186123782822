import MetroProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// Reads journal records forward from a position, for replay (protocol.md §4.9)
/// and consumer groups (§4.10).
///
/// A cursor is placed with the index (`Journal.cursor(atOrAfter:)`: two binary
/// searches, never a scan from the start) and then reads segment files in chunks
/// of `chunkBytes` with `pread`, crossing into the next segment at the end of one.
/// It only reads what the journal has handed to the OS (`Journal.writtenSeq`), so
/// the broker calls it after its batch flush, and never reads past the written end
/// of a segment: the active data file continues with zero-filled space, which a
/// read must not mistake for (and cache as) the records still in the buffer.
///
/// A segment that retention removed under the cursor is reported, never skipped
/// silently: `step` returns `.lost` with the seqs gone, and the reader decides
/// (a replay ends with 204, a group counts them as expired).
///
/// Between reads a cursor holds one descriptor and one chunk (up to 256 KiB);
/// `release()` drops both, and `rewind()` steps back over the record just read,
/// so a reader that cannot send holds nothing but a position (protocol.md §4.9,
/// "Cost").
///
/// Threading: owned by the broker's loop thread, like the journal.
final class JournalCursor {
    static let chunkBytes = 256 << 10

    /// What one `step` found.
    enum Step: Equatable {
        case record(JournalRecord)
        /// Nothing (yet) up to the limit.
        case end
        /// Retention removed the seqs `first ..< earliest` before the cursor read
        /// them (every topic: an upper bound on the events lost). The cursor
        /// already stands at `earliest`, the first seq the journal still holds.
        case lost(first: UInt64, earliest: UInt64)
    }

    /// The base seq of the segment being read, and the offset of the next record.
    private(set) var base: UInt64
    private(set) var offset: Int64
    /// The lowest seq the next record may have (the start, then last read + 1).
    private(set) var nextSeq: UInt64
    /// Where the last record read started (for `rewind`), and the `nextSeq` before it.
    private var previous: (base: UInt64, offset: Int64, nextSeq: UInt64)?
    private var fd: Int32 = -1
    private var fdBase: UInt64 = 0
    private var chunk: [UInt8] = []
    private var chunkStart: Int64 = 0
    /// Where the last record read lies in `chunk` (`withLastRecord`).
    private var last: (at: Int, size: Int) = (0, 0)

    init(base: UInt64, offset: Int64, from: UInt64 = 0) {
        self.base = base
        self.offset = offset
        nextSeq = from
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// Whether the cursor holds a descriptor now (tests).
    var holdsDescriptor: Bool { fd >= 0 }

    /// Closes the descriptor and frees the chunk; the next read opens and reads again.
    func release() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        chunk = []
        chunkStart = 0
    }

    /// Steps back over the record the last `step` returned, so that the next step
    /// returns it again (a reader that could not send it keeps only the position).
    func rewind() {
        guard let p = previous else { return }
        (base, offset, nextSeq) = p
        previous = nil
    }

    /// The next record with seq <= `limit`, skipping losses (tools and tests).
    func next(in journal: Journal, upTo limit: UInt64) throws(JournalError) -> JournalRecord? {
        while true {
            switch try step(in: journal, upTo: limit) {
            case .record(let r): return r
            case .end: return nil
            case .lost: continue
            }
        }
    }

    /// The next record with seq <= `limit`, the end for now, or a loss.
    func step(in journal: Journal, upTo limit: UInt64) throws(JournalError) -> Step {
        switch try stepRaw(in: journal, upTo: limit) {
        case .record: return .record(withLastRecord { JournalRecord(validated: $0) })
        case .end: return .end
        case .lost(let first, let earliest): return .lost(first: first, earliest: earliest)
        }
    }

    /// What one `stepRaw` found: a record's seq, time and size, its bytes being
    /// readable through `withLastRecord` until the cursor moves again.
    enum RawStep: Equatable {
        case record(seq: UInt64, time: UInt64, size: Int)
        case end
        case lost(first: UInt64, earliest: UInt64)
    }

    /// As `step`, without decoding: the record's bytes (checksum verified) stay in
    /// the cursor's chunk, so a packed delivery copies them as they are (§4.10.2).
    func stepRaw(in journal: Journal, upTo limit: UInt64) throws(JournalError) -> RawStep {
        let limit = min(limit, journal.writtenSeq)
        previous = nil
        let (i, end, isActive): (Int, Int64, Bool)
        switch locate(in: journal) {
        case .at(let index, let e, let active): (i, end, isActive) = (index, e, active)
        case .end: return .end
        case .lost(let first, let earliest): return .lost(first: first, earliest: earliest)
        }
        let (seq, time, size) = try read(journal, i, end: end, at: offset)
        guard seq <= limit else { return .end }
        last = (Int(offset - chunkStart), size)
        previous = (base, offset, nextSeq)
        offset += Int64(size)
        nextSeq = seq + 1
        if !isActive && offset >= end { standAtStart(of: i + 1, in: journal) }
        return .record(seq: seq, time: time, size: size)
    }

    /// What one `readPacked` put at the start of the caller's buffer.
    enum PackedStep: Equatable {
        /// `bytes` of whole records that `keep` took (`events` of them), back to
        /// back from the buffer's start; `scanned` records were read and passed,
        /// taken or not (so `bytes` is 0 when none of them was taken).
        /// `heldBack`: the next record is one `keep` takes but `maxEvents` did not
        /// allow; the cursor stands at it.
        case records(bytes: Int, events: Int, scanned: Int, heldBack: Bool)
        /// The next record does not fit in the buffer: it needs `bytes`.
        case needs(bytes: Int)
        case end
        case lost(first: UInt64, earliest: UInt64)
    }

    /// Reads the next records with seq <= `limit` straight into `buffer` (one
    /// `pread`, never past a segment's end), keeps the ones `keep` takes, at most
    /// `maxEvents`, packed at its start, and moves past every record it passed. A
    /// record the buffer cuts is left for the next call.
    ///
    /// For a packed replay (§4.9.2), whose frame this buffer becomes without another
    /// copy. Records are checked for their framing (`JournalRecord.probeFraming`),
    /// not their checksum: the client checks that, end to end. A record whose
    /// framing is broken is thrown as `.corrupt`, never taken for the end.
    func readPacked(
        in journal: Journal, upTo limit: UInt64, into buffer: UnsafeMutableRawBufferPointer, maxEvents: Int,
        keep: (UnsafeRawBufferPointer) -> Bool
    ) throws(JournalError) -> PackedStep {
        let limit = min(limit, journal.writtenSeq)
        previous = nil
        let (i, end, isActive): (Int, Int64, Bool)
        switch locate(in: journal) {
        case .at(let index, let e, let active): (i, end, isActive) = (index, e, active)
        case .end: return .end
        case .lost(let first, let earliest): return .lost(first: first, earliest: earliest)
        }
        try open(journal, i)
        let path = { journal.segments[i].dataPath }
        let want = Int(min(Int64(buffer.count), end - offset))
        // Fewer bytes than the journal wrote (the file was cut under it) are walked
        // as far as they hold whole records, like a segment's end.
        let n = try FileIO.pread(
            fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<want]), at: offset, path: path())
        let cutByBuffer = n == buffer.count
        let raw = UnsafeRawBufferPointer(buffer)
        var at = 0, kept = 0, events = 0, scanned = 0, heldBack = false
        // A damaged record is thrown only when it is the first: the records before
        // it are returned first, so that the error finds the cursor standing at the
        // damaged record (its seq is then named by the index, §4.9 "Read failures").
        walk: while true {
            let seq: UInt64, size: Int
            switch JournalRecord.probeFraming(UnsafeRawBufferPointer(rebasing: raw[at..<n])) {
            case .record(let s, let q, _): (size, seq) = (s, q)
            case .corrupt:
                if at > 0 { break walk }
                throw corrupt(path(), at: offset)
            case .truncated:
                if at > 0 { break walk }  // the next call's first: read whole, or found damaged
                // Cut by the segment's end (or the file's), not by the buffer: damaged.
                guard cutByBuffer else { throw corrupt(path(), at: offset) }
                guard n >= 4 else { return .needs(bytes: JournalRecord.headerBytes) }
                return .needs(bytes: 8 + Int(UInt32(littleEndian: raw.loadUnaligned(as: UInt32.self))))
            }
            guard seq <= limit else { break }
            let record = UnsafeRawBufferPointer(rebasing: raw[at..<(at + size)])
            if keep(record) {
                guard events < maxEvents else {
                    heldBack = true
                    break
                }
                if kept != at {
                    buffer.baseAddress!.advanced(by: kept).copyMemory(from: record.baseAddress!, byteCount: size)
                }
                kept += size
                events += 1
            }
            scanned += 1
            at += size
            nextSeq = seq + 1
            if at == n { break }
        }
        guard at > 0 || heldBack else { return .end }  // the next record is past `limit`
        offset += Int64(at)
        if !isActive && offset >= end { standAtStart(of: i + 1, in: journal) }
        return .records(bytes: kept, events: events, scanned: scanned, heldBack: heldBack)
    }

    private func corrupt(_ path: String, at offset: Int64) -> JournalError {
        JournalError(.corrupt, operation: "read the record at offset \(offset) of", path: path, errno: EILSEQ)
    }

    /// Where the cursor's next record is looked for.
    private enum Location {
        /// In `journal.segments[index]`, whose readable bytes end at `end`.
        case at(index: Int, end: Int64, isActive: Bool)
        case end
        case lost(first: UInt64, earliest: UInt64)
    }

    /// Finds the segment the cursor stands in, moving on past the end of a sealed
    /// one and reporting the seqs of a segment that retention removed under it.
    private func locate(in journal: Journal) -> Location {
        while true {
            guard let i = Self.firstSegment(atOrAfter: base, in: journal.segments) else { return .end }
            let segBase = journal.segments[i].base
            if segBase != base {  // ours was removed by retention: report what went with it
                let first = max(nextSeq, base)
                base = segBase
                offset = Int64(JournalSegment.magic.count)
                nextSeq = max(nextSeq, segBase)
                if first < segBase { return .lost(first: first, earliest: segBase) }
            }
            let isActive = i == journal.segments.count - 1
            let end = isActive ? journal.writtenSize : journal.segments[i].size
            if offset >= end || journal.segments[i].records == 0 {
                guard !isActive else { return .end }
                standAtStart(of: i + 1, in: journal)
                continue
            }
            return .at(index: i, end: end, isActive: isActive)
        }
    }

    /// Stands at the first record of `journal.segments[index]`, not at the end of
    /// the one before.
    private func standAtStart(of index: Int, in journal: Journal) {
        base = journal.segments[index].base
        offset = Int64(JournalSegment.magic.count)
    }

    /// The bytes of the record the last `stepRaw` (or `step`) returned; only valid
    /// right after it, before the cursor reads, rewinds or releases.
    func withLastRecord<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        chunk.withUnsafeBytes { raw in body(UnsafeRawBufferPointer(rebasing: raw[last.at..<(last.at + last.size)])) }
    }

    /// The index of the first segment whose base is ≥ `base` (binary search).
    static func firstSegment(atOrAfter base: UInt64, in segments: [JournalSegment]) -> Int? {
        var lo = 0, hi = segments.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if segments[mid].base < base { lo = mid + 1 } else { hi = mid }
        }
        return lo < segments.count ? lo : nil
    }

    /// Opens the data file of `journal.segments[index]` unless it is open already.
    private func open(_ journal: Journal, _ index: Int) throws(JournalError) {
        let segBase = journal.segments[index].base
        guard fd < 0 || fdBase != segBase else { return }
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        fd = try FileIO.open(journal.segments[index].dataPath, flags: O_RDONLY)
        fdBase = segBase
        chunk = []
    }

    /// Checks the record at `at` in `journal.segments[index]` (its seq, time and
    /// size), reading a new chunk (never past `end`) when needed. Bytes below `end`
    /// that are no whole, valid record are thrown as `.corrupt`: a damaged record
    /// is never taken for the end of the journal.
    private func read(
        _ journal: Journal, _ index: Int, end: Int64, at: Int64
    ) throws(JournalError) -> (seq: UInt64, time: UInt64, size: Int) {
        try open(journal, index)
        for attempt in 0..<3 {
            let rel = Int(at - chunkStart)
            var need = Self.chunkBytes
            if at >= chunkStart && rel < chunk.count {
                let probe = chunk.withUnsafeBytes { raw in
                    JournalRecord.probe(UnsafeRawBufferPointer(rebasing: raw[rel...]))
                }
                switch probe {
                case .record(let size, let seq, let time):
                    return (seq, time, size)
                case .corrupt:
                    throw corrupt(journal.segments[index].dataPath, at: at)
                case .truncated:
                    if chunk.count - rel >= 4 {  // a record larger than one chunk
                        need =
                            8
                            + chunk.withUnsafeBytes {
                                Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: rel, as: UInt32.self)))
                            }
                    }
                }
            }
            guard attempt < 2, at < end else { break }
            let path = journal.segments[index].dataPath
            chunk = try FileIO.pread(
                fd, count: Int(min(Int64(max(need, Self.chunkBytes)), end - at)), at: at, path: path)
            chunkStart = at
        }
        throw corrupt(journal.segments[index].dataPath, at: at)
    }
}

extension Journal {
    /// A cursor at the first record with seq >= `seq` (0: the earliest held), found
    /// through the index. Positions past the end wait there for new records.
    func cursor(atOrAfter seq: UInt64) throws(JournalError) -> JournalCursor {
        guard let first = segments.first else { return JournalCursor(base: 0, offset: 8, from: seq) }
        var lo = 0, hi = segments.count - 1
        if seq == 0 || seq == first.base {
            return JournalCursor(base: first.base, offset: Int64(JournalSegment.magic.count), from: first.base)
        }
        if seq < first.base {  // retention removed `seq...`: the first step reports it
            return JournalCursor(base: seq, offset: Int64(JournalSegment.magic.count), from: seq)
        }
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if segments[mid].base <= seq { lo = mid } else { hi = mid - 1 }
        }
        let seg = segments[lo]
        if seg.records == 0 || seq > seg.lastSeq {
            // Past this segment's records: at the next one's start (so that its
            // removal is not taken for a loss of `seq...`), or wait at the end.
            guard lo + 1 < segments.count else { return JournalCursor(base: seg.base, offset: seg.size, from: seq) }
            return JournalCursor(base: segments[lo + 1].base, offset: Int64(JournalSegment.magic.count), from: seq)
        }
        if seq <= seg.firstSeq {
            return JournalCursor(base: seg.base, offset: Int64(JournalSegment.magic.count), from: seq)
        }
        // Lower bound over the index entries: the first with entry.seq >= seq.
        let fd = try FileIO.open(seg.indexPath, flags: O_RDONLY)
        defer { Glibc.close(fd) }
        var low = 0, high = seg.records - 1
        var offset = seg.size
        while low <= high {
            let mid = (low + high) / 2
            let entry = try FileIO.pread(
                fd, count: JournalSegment.indexEntryBytes, at: Int64(mid * JournalSegment.indexEntryBytes),
                path: seg.indexPath)
            guard entry.count == JournalSegment.indexEntryBytes else { break }
            let (s, o) = entry.withUnsafeBytes {
                (
                    UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)),
                    UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                )
            }
            if s >= seq {
                offset = Int64(o)
                high = mid - 1
            } else {
                low = mid + 1
            }
        }
        return JournalCursor(base: seg.base, offset: offset, from: seq)
    }

    /// A cursor at the start of the first segment holding a record stamped at or
    /// after `time`; the reader skips the earlier records of that one segment.
    func cursor(atOrAfterTime time: UInt64) -> JournalCursor {
        let seg = segments.first { $0.records > 0 && $0.lastTime >= time } ?? segments.last
        guard let seg else { return JournalCursor(base: 0, offset: 8) }
        let offset = seg.lastTime >= time ? Int64(JournalSegment.magic.count) : seg.size
        return JournalCursor(base: seg.base, offset: offset, from: seg.base)
    }

    /// The first seq replay can still serve: the base of the oldest segment.
    var earliestReplayableSeq: UInt64 { segments.first?.base ?? 1 }
}
