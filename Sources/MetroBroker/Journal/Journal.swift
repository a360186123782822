package import Logging
import MetroProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// The broker's journal: segmented, append-only files of checksummed records in
/// one folder, with a sidecar index per segment (format: protocol.md Appendix B).
///
/// Appends go into one large buffer; `flush()` writes it with one write per file
/// (group commit): a `pwrite` at the records' end into the data file, which keeps
/// zero-filled space ahead of that end (`ZeroFill`: syncs after overwrites of
/// synced zeros are data-only and cheaper than after appends), and an append to
/// the index. Durability is not this type's job: when a segment is sealed, it goes
/// to `retire` (the `JournalSyncer` fsyncs it, cuts its zero tail, writes its
/// seal entry and closes it off the broker's thread: `SealedSegment`), and the
/// syncer fsyncs the active file. Opening a journal recovers it: the active
/// segment is scanned, a torn or corrupt tail is cut off (a zero tail is kept: it
/// is zero-filled space), and its index is rebuilt.
///
/// Threading: owned by the broker's loop thread; no method is thread-safe.
package final class Journal {
    package struct Options: Sendable {
        package var segmentBytes: Int64 = 128 << 20
        /// Whole segments are removed, oldest first, past these (0: no limit).
        package var retentionBytes: Int64 = 0
        package var retentionAgeNanoseconds: UInt64 = 0
        /// The largest record `append` must take (sizes the write buffer).
        package var maxRecordBytes: Int = 2 << 20
        /// Zero-filled space kept ahead of the write position in the active segment
        /// (`ZeroFill`); 0 turns zero fill off (every write appends).
        package var zeroFillBytes: Int64 = 2 << 20
        /// Most zeros written after one flush (bounds the time a flush spends on them).
        package var zeroFillSliceBytes: Int64 = 256 << 10
        package init() {}
    }

    /// What opening the journal found.
    package struct RecoveryReport: Sendable {
        package var segments = 0
        package var records = 0
        package var lastSeq: UInt64 = 0
        /// Bytes cut off the end of a segment (a torn or corrupt tail). Zero bytes
        /// after the last record are zero-filled space, not counted.
        package var truncatedBytes: Int64 = 0
    }

    package let directory: String
    let options: Options
    let logger: Logger
    var segments: [JournalSegment] = []
    var dataFD: Int32 = -1
    var indexFD: Int32 = -1

    let buffer: UnsafeMutableRawPointer
    let bufferCapacity: Int
    var buffered = 0
    let indexBuffer: UnsafeMutableRawPointer
    let indexCapacity: Int
    var indexBuffered = 0
    /// Zeros to copy from when filling (`zeroBufferBytes` of them).
    let zeroBuffer: UnsafeMutableRawPointer
    let zeroBufferBytes = 256 << 10

    /// The last seq appended (0 if none).
    package private(set) var lastSeq: UInt64 = 0
    /// The last seq handed to the OS by `flush`.
    package private(set) var writtenSeq: UInt64 = 0
    /// Bytes written since open (data and index; zero fill not counted).
    package private(set) var bytesWritten: UInt64 = 0
    /// Flushes whose data landed on synced zeros (the fast path) / past them (appends).
    package internal(set) var writesOnZeroFill: UInt64 = 0
    package internal(set) var writesPastZeroFill: UInt64 = 0
    /// Zero bytes written ahead of the data since open.
    package internal(set) var zeroFillBytesWritten: UInt64 = 0
    package internal(set) var recovery = RecoveryReport()
    /// Takes a sealed segment: must seal and close it (`SealedSegment.sealAndClose`).
    /// `attach` points it at the syncer; without one, the journal seals inline.
    package var retire: (SealedSegment) -> Void
    /// Reports the zero fill that is durable; set by `attach`.
    private(set) var syncer: JournalSyncer?
    var zeroFill: ZeroFill
    /// Called with the number of segments removed by retention.
    package var onRetention: (Int) -> Void = { _ in }

    /// Opens (creating if needed) and recovers the journal in `directory`.
    package init(directory: String, options: Options = Options(), logger: Logger = Logger(label: "metro.journal"))
        throws(JournalError)
    {
        self.directory = directory
        self.options = options
        self.logger = logger
        bufferCapacity = max(4 << 20, 2 * options.maxRecordBytes)
        buffer = .allocate(byteCount: bufferCapacity, alignment: 16)
        indexCapacity = (bufferCapacity / JournalRecord.headerBytes + 1) * JournalSegment.indexEntryBytes
        indexBuffer = .allocate(byteCount: indexCapacity, alignment: 16)
        zeroBuffer = .allocate(byteCount: zeroBufferBytes, alignment: 4096)
        zeroBuffer.initializeMemory(as: UInt8.self, repeating: 0, count: zeroBufferBytes)
        // Without zero fill every write appends, and ext4 orders appended data before
        // the size that covers it: sealing needs no sync then (fsync=never).
        let syncsSeal = options.zeroFillBytes > 0
        retire = { segment in
            do throws(JournalError) {
                try segment.sealAndClose(sync: { (fd, path) throws(JournalError) in
                    if syncsSeal { try FileIO.sync(fd, path: path) }
                })
            } catch {
                // No syncer, so no ACK waits on this (tools and tests); recovery reseals it.
                logger.error("journal: sealing a segment failed: \(error)")
            }
        }
        zeroFill = ZeroFill(
            segmentBase: 0, writtenEnd: 0, fileSize: 0, limit: 0, leadBytes: 0, sliceBytes: 0)
        try FileIO.makeDirectory(directory)
        try recover()
        lastSeq = recovery.lastSeq
        writtenSeq = lastSeq
        try prefill()
    }

    /// Routes sealed segments to `syncer` and learns from it which zeros are durable.
    /// Call before the loop starts.
    package func attach(_ syncer: JournalSyncer) {
        self.syncer = syncer
        retire = { syncer.retire($0) }
    }

    deinit {
        buffer.deallocate()
        indexBuffer.deallocate()
        zeroBuffer.deallocate()
        if dataFD >= 0 { Glibc.close(dataFD) }
        if indexFD >= 0 { Glibc.close(indexFD) }
    }

    /// The descriptor of the active segment's data file (for the syncer).
    package var activeDataFD: Int32 { dataFD }
    package var activeIndexFD: Int32 { indexFD }
    /// The path of the active segment's data file (for error reports).
    package var activeDataPath: String { segments[segments.count - 1].dataPath }
    package var segmentCount: Int { segments.count }
    /// Record bytes appended but not yet handed to the OS.
    package var bufferedBytes: Int { buffered }
    /// The active segment's bytes handed to the OS (its records' end in the file).
    var writtenSize: Int64 { segments[segments.count - 1].size - Int64(buffered) }
    /// Bytes on disk, data and index, after the next flush.
    package var totalBytes: Int64 { segments.reduce(0) { $0 + $1.diskBytes } }

    /// Appends one record to the buffer (rolling the segment first if it is full).
    /// `seq` must be greater than every seq appended before.
    @inline(__always)
    package func append(
        seq: UInt64, time: UInt64, id: UnsafeRawBufferPointer, topic: UnsafeRawBufferPointer,
        headers: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer
    ) throws(JournalError) {
        precondition(seq > lastSeq, "journal seqs must grow")
        let size = JournalRecord.size(id: id.count, topic: topic.count, headers: headers.count, payload: payload.count)
        precondition(size <= bufferCapacity, "record larger than the journal buffer")
        if segments[segments.count - 1].records > 0
            && segments[segments.count - 1].size + Int64(size) > options.segmentBytes
        {
            try roll(nextBase: seq)
        }
        if buffered + size > bufferCapacity || indexBuffered + JournalSegment.indexEntryBytes > indexCapacity {
            try flush()
        }
        let last = segments.count - 1
        let offset = segments[last].size
        _ = JournalRecord.encode(
            into: buffer + buffered, seq: seq, time: time, id: id, topic: topic, headers: headers, payload: payload)
        buffered += size
        indexBuffer.storeBytes(of: seq.littleEndian, toByteOffset: indexBuffered, as: UInt64.self)
        indexBuffer.storeBytes(of: UInt64(offset).littleEndian, toByteOffset: indexBuffered + 8, as: UInt64.self)
        indexBuffered += JournalSegment.indexEntryBytes
        segments[last].size += Int64(size)
        if segments[last].records == 0 { segments[last].firstSeq = seq }
        segments[last].records += 1
        segments[last].lastSeq = seq
        segments[last].lastTime = time
        lastSeq = seq
    }

    /// Hands the buffered records to the OS (one write per file), then tops up the
    /// zero fill by at most one slice. Cheap when empty.
    ///
    /// A failed write (ENOSPC, EDQUOT, EIO) throws and changes nothing here: the
    /// records stay buffered, and the next flush writes them again at the same
    /// offsets, data and index alike (`pwrite`, never the file position), so a torn
    /// part that the failed write left is overwritten byte for byte, and nothing is
    /// ever appended after it. If the broker stops first, the torn part is the
    /// segment's tail, which recovery cuts by its checksum.
    package func flush() throws(JournalError) {
        guard buffered > 0 else { return }
        let seg = segments[segments.count - 1]
        if let syncer { zeroFill.synced(syncer.durableZeroFill) }
        if zeroFill.isReady(upTo: seg.size) { writesOnZeroFill += 1 } else { writesPastZeroFill += 1 }
        try FileIO.pwriteAll(
            dataFD, UnsafeRawBufferPointer(start: buffer, count: buffered), at: seg.size - Int64(buffered),
            path: seg.dataPath)
        let indexOffset = Int64(seg.records * JournalSegment.indexEntryBytes - indexBuffered)
        try FileIO.pwriteAll(
            indexFD, UnsafeRawBufferPointer(start: indexBuffer, count: indexBuffered), at: indexOffset,
            path: seg.indexPath)
        bytesWritten += UInt64(buffered + indexBuffered)
        buffered = 0
        indexBuffered = 0
        writtenSeq = lastSeq
        zeroFill.wrote(upTo: seg.size)
        if let slice = zeroFill.nextSlice(writtenEnd: seg.size) { writeZeros(slice) }
    }

    /// Seals the active segment and starts `<nextBase>.seg`.
    func roll(nextBase: UInt64) throws(JournalError) {
        try flush()
        let seg = segments[segments.count - 1]
        retire(
            SealedSegment(
                dataFD: dataFD, indexFD: indexFD, size: seg.size, records: seg.records, dataPath: seg.dataPath,
                indexPath: seg.indexPath))
        dataFD = -1
        indexFD = -1
        try createSegment(base: nextBase)
        applyRetention(now: segments[segments.count - 2].lastTime)
    }

    func createSegment(base: UInt64) throws(JournalError) {
        let seg = JournalSegment(base: base, directory: directory, size: Int64(JournalSegment.magic.count), records: 0)
        dataFD = try FileIO.open(seg.dataPath, flags: O_WRONLY | O_CREAT | O_TRUNC)
        try FileIO.pwriteAll(dataFD, JournalSegment.magic, at: 0, path: seg.dataPath)
        indexFD = try FileIO.open(seg.indexPath, flags: O_WRONLY | O_CREAT | O_TRUNC)
        segments.append(seg)
        startZeroFill(seg, fileSize: seg.size)
    }

    /// Flushes, fsyncs and closes the active files (after the syncer has stopped).
    /// The active data file keeps its zero-filled space for the next open.
    /// A failed sync is thrown after both files are closed.
    package func close() throws(JournalError) {
        try flush()
        let seg = segments[segments.count - 1]
        defer { abandon() }
        if dataFD >= 0 { try FileIO.sync(dataFD, path: seg.dataPath) }
        if indexFD >= 0 { try FileIO.sync(indexFD, path: seg.indexPath) }
    }

    /// Closes the active files without writing or syncing anything (after a storage
    /// failure: nothing more may be claimed durable; recovery checks the tail).
    package func abandon() {
        if dataFD >= 0 { Glibc.close(dataFD); dataFD = -1 }
        if indexFD >= 0 { Glibc.close(indexFD); indexFD = -1 }
    }
}
