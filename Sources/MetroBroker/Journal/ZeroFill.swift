/// Zero-filled space ahead of the write position in the active segment's data
/// file, so that in the steady state every data write lands on blocks that were
/// written with zeros and fdatasynced earlier (protocol.md Appendix B).
///
/// Why: an fdatasync after an append must commit the file's new size to the ext4
/// journal; after an overwrite of initialised blocks it flushes data pages only.
/// Measured on the development VM (20–38 KB writes): ~0.4 ms against ~0.17–0.22
/// ms at the median. `fallocate` does not help (its "unwritten" extents still
/// need a metadata commit when first written). PostgreSQL zero-fills its WAL
/// segments for the same reason.
///
/// How (this type is the pure bookkeeping; `Journal.flush` does the I/O):
/// - **One writer.** Only the broker's loop thread writes the data file — records
///   and zeros alike, with `pwrite` at explicit offsets. After each flush, if the
///   zeros reach less than `leadBytes` past the written end, it writes one more
///   slice of zeros (`sliceBytes`) right after the furthest of zeros and data. So
///   the loop and the syncer never write the same byte range: the syncer never
///   writes the active file at all, it only fdatasyncs it; it touches a data
///   file's bytes only to cut a *sealed* segment, which the loop has let go of
///   (`SealedSegment`). A slice costs the loop ~0.1 ms of page-cache copying
///   (256 KiB: 70–110 µs measured; 4 MiB took 17 ms, so no big chunks here).
/// - **Durable through the syncer's ordinary fdatasync.** Each sync request
///   carries the fill `Mark` (segment base, end of the zeros written so far); once
///   fdatasync of that file has returned, the syncer publishes the mark
///   (`JournalSyncer.durableZeroFill`). The loop reads it at its next flush: zeros
///   below it are *ready*. The first sync after a slice is slower (it commits the
///   new size and writes the zeros); ~1 in 12 syncs at the acknowledged-publish
///   rate, the rest are data-only.
/// - **Never blocks, never corrupts.** A flush whose bytes all lie below the ready
///   end is the fast path. Otherwise (a fresh segment, a burst that outruns one
///   slice per flush, no syncer) it writes past the ready end — over zeros not yet
///   synced, or beyond the end of the file — which is exactly an append: slower
///   to sync, same bytes on disk, and the fill resumes after it.
/// - **Lead.** `leadBytes` (2 MiB default) is far more than is written during one
///   fdatasync (~20 KB at 100k events/s), so zeros are synced long before data
///   reaches them. Zeros stop at `limit` (`journal.segmentBytes`): a sealed
///   segment's unused tail is shorter than one record.
/// - **Start.** Opening the journal fills the active segment up to the lead and
///   fdatasyncs it at once (on the opening thread, before the loop runs). A
///   segment created by a roll starts empty and fills over its first flushes.
///
/// Crash safety does not depend on any of this: the zeros only make syncs cheaper.
/// Recovery reads a zero record length as the end of the log (`SegmentScanner`).
struct ZeroFill {
    /// How far the zeros of one segment reach, as the loop tells the syncer.
    struct Mark: Sendable, Equatable {
        var segmentBase: UInt64
        var end: Int64
        static let none = Mark(segmentBase: 0, end: 0)
    }

    /// The zeros to keep ahead of the written end (0: no zero fill).
    let leadBytes: Int64
    /// Most zeros written after one flush.
    let sliceBytes: Int64
    /// The segment being filled.
    let segmentBase: UInt64
    /// Zeros are never written at or past this offset.
    let limit: Int64
    /// End of the zeros written into the file (not necessarily durable).
    private(set) var filledEnd: Int64
    /// End of the zeros known durable: a write that ends at or below it overwrites synced zeros.
    private(set) var readyEnd: Int64
    /// Set when a slice failed: no more zeros for this segment.
    private(set) var stopped = false

    /// `fileSize`: the data file's size now; `writtenEnd`: where the records end.
    init(segmentBase: UInt64, writtenEnd: Int64, fileSize: Int64, limit: Int64, leadBytes: Int64, sliceBytes: Int64) {
        self.segmentBase = segmentBase
        self.limit = limit
        self.leadBytes = leadBytes
        self.sliceBytes = max(4096, sliceBytes)
        filledEnd = max(writtenEnd, fileSize)
        readyEnd = writtenEnd
    }

    /// The mark a sync request carries.
    var mark: Mark { Mark(segmentBase: segmentBase, end: filledEnd) }

    /// The syncer reports `mark` durable (marks of other segments are ignored).
    mutating func synced(_ mark: Mark) {
        guard mark.segmentBase == segmentBase else { return }
        readyEnd = max(readyEnd, min(mark.end, filledEnd))
    }

    /// Whether a write ending at `end` lands on zeros that are already synced.
    func isReady(upTo end: Int64) -> Bool { end <= readyEnd }

    /// Records a data write ending at `end` (it may reach past the zeros: an append).
    mutating func wrote(upTo end: Int64) {
        filledEnd = max(filledEnd, end)
    }

    /// The next range of zeros to write after the data ending at `writtenEnd`, or
    /// nil when the lead is reached (or filling is off); counts it as written.
    /// Slices end on 4 KiB boundaries where they can.
    mutating func nextSlice(writtenEnd: Int64) -> Range<Int64>? {
        let start = max(filledEnd, writtenEnd)
        guard leadBytes > 0, !stopped, start - writtenEnd < leadBytes, start < limit else { return nil }
        var end = start + sliceBytes
        if end & 4095 != 0 && end - (end & 4095) > start { end -= end & 4095 }
        end = min(end, limit)
        filledEnd = end
        return start..<end
    }

    /// Writing `slice` failed (say, a full disk): stop filling this segment; its
    /// writes append from now on. Zeros partly written there are overwritten later.
    mutating func failed(_ slice: Range<Int64>) {
        filledEnd = slice.lowerBound
        stopped = true
    }
}
