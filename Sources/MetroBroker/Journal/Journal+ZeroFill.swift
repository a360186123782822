import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The I/O side of `ZeroFill` (the design is there). Loop thread, like the journal.
extension Journal {
    /// The mark a sync request carries: how far zeros reach in the active data file.
    var zeroFillMark: ZeroFill.Mark { zeroFill.mark }

    /// Starts filling a newly active segment whose data file is `fileSize` bytes.
    func startZeroFill(_ seg: JournalSegment, fileSize: Int64) {
        zeroFill = ZeroFill(
            segmentBase: seg.base, writtenEnd: seg.size, fileSize: fileSize, limit: options.segmentBytes,
            leadBytes: options.zeroFillBytes, sliceBytes: options.zeroFillSliceBytes)
    }

    /// At open: fills the active segment up to the lead and fdatasyncs it, so the
    /// first writes already land on synced zeros. Runs before the loop does.
    func prefill() throws(JournalError) {
        guard options.zeroFillBytes > 0 else { return }
        let seg = segments[segments.count - 1]
        while let slice = zeroFill.nextSlice(writtenEnd: seg.size) { writeZeros(slice) }
        try FileIO.sync(dataFD, path: seg.dataPath)  // also a zero tail kept by recovery, which may not be on disk yet
        zeroFill.synced(zeroFill.mark)
    }

    /// Writes `slice` of zeros into the active data file. A failure (a full disk)
    /// is not the flush's failure: the records are written; filling stops for this
    /// segment and its later writes append.
    func writeZeros(_ slice: Range<Int64>) {
        var at = slice.lowerBound
        do throws(JournalError) {
            while at < slice.upperBound {
                let n = Int(min(Int64(zeroBufferBytes), slice.upperBound - at))
                try FileIO.pwriteAll(
                    dataFD, UnsafeRawBufferPointer(start: zeroBuffer, count: n), at: at,
                    path: segments[segments.count - 1].dataPath)
                at += Int64(n)
            }
            zeroFillBytesWritten += UInt64(slice.count)
        } catch {
            logger.warning("journal: zero fill stopped for this segment, writes append: \(error)")
            zeroFill.failed(slice)
        }
    }
}
