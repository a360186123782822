import Logging
import MetroProtocol

#if canImport(Glibc)
    import Glibc
#endif

extension Journal {
    /// Opens every segment: sealed ones are checked through their index (which must
    /// end with a seal entry; rescanned and sealed if not), the active (last) one is
    /// scanned and its tail cut. Zero-filled space ends the records of any segment;
    /// the active one keeps it, a sealed one is cut to size (protocol.md Appendix B).
    func recover() throws(JournalError) {
        let bases = try FileIO.list(directory).compactMap(JournalSegment.base(ofFileName:)).sorted()
        var after: UInt64 = 0
        for (i, base) in bases.enumerated() {
            var seg = JournalSegment(base: base, directory: directory, size: 0, records: 0)
            let sealed = i < bases.count - 1
            if sealed, let checked = checkSealed(seg, after: after) {
                seg = checked
            } else {
                seg = try rescan(seg, after: after, sealed: sealed)
            }
            if seg.records > 0 { after = seg.lastSeq }
            recovery.records += seg.records
            segments.append(seg)
        }
        recovery.segments = segments.count
        recovery.lastSeq = after
        if segments.isEmpty {
            try createSegment(base: 1)
            try FileIO.syncDirectory(directory)
        } else {
            let seg = segments[segments.count - 1]
            dataFD = try FileIO.open(seg.dataPath, flags: O_WRONLY)
            indexFD = try FileIO.open(seg.indexPath, flags: O_WRONLY)
            _ = lseek(indexFD, off_t(seg.records * JournalSegment.indexEntryBytes), SEEK_SET)
            startZeroFill(seg, fileSize: try FileIO.size(dataFD, path: seg.dataPath))
        }
    }

    /// A sealed segment read from its index alone, or nil (then it is rescanned).
    /// The index must end with the seal entry (seq 0, offset = data file size), and
    /// its last record entry must point at a valid record that ends the file.
    private func checkSealed(_ seg: JournalSegment, after: UInt64) -> JournalSegment? {
        let entryBytes = JournalSegment.indexEntryBytes
        guard let idx = try? MappedFile(path: seg.indexPath), idx.bytes.count >= 2 * entryBytes,
            idx.bytes.count % entryBytes == 0
        else { return nil }
        func entry(_ i: Int) -> (seq: UInt64, offset: Int) {
            (
                UInt64(littleEndian: idx.bytes.loadUnaligned(fromByteOffset: i * entryBytes, as: UInt64.self)),
                Int(UInt64(littleEndian: idx.bytes.loadUnaligned(fromByteOffset: i * entryBytes + 8, as: UInt64.self)))
            )
        }
        let entries = idx.bytes.count / entryBytes - 1
        let seal = entry(entries)
        let first = entry(0)
        let last = entry(entries - 1)
        guard seal.seq == 0, first.seq > after, let data = try? MappedFile(path: seg.dataPath),
            seal.offset == data.bytes.count, last.offset < data.bytes.count
        else { return nil }
        guard
            case .record(let size, let seq, let time) = JournalRecord.probe(
                UnsafeRawBufferPointer(rebasing: data.bytes[last.offset...])),
            seq == last.seq, last.offset + size == data.bytes.count
        else { return nil }
        var out = seg
        out.size = Int64(data.bytes.count)
        out.records = entries
        out.firstSeq = first.seq
        out.lastSeq = last.seq
        out.lastTime = time
        return out
    }

    /// Scans a segment's data, cuts a torn or corrupt tail, and rewrites its index.
    /// Zero bytes after the last record are zero-filled space: not counted as cut;
    /// kept in the active segment, cut from a sealed one (whose seal a crash beat:
    /// it gets its seal now).
    private func rescan(_ seg: JournalSegment, after: UInt64, sealed: Bool) throws(JournalError) -> JournalSegment {
        let result: SegmentScanner.Result
        let fileSize: Int64
        do {
            let data = try MappedFile(path: seg.dataPath)
            result = SegmentScanner.scan(data.bytes, after: after)
            fileSize = Int64(data.bytes.count)
        }
        if result.ending == .badMagic {
            throw JournalError(
                .corrupt, operation: "recover (not a Metro journal segment)", path: seg.dataPath, errno: EINVAL)
        }
        var out = seg
        let fd = try FileIO.open(seg.dataPath, flags: O_WRONLY)
        defer { Glibc.close(fd) }
        if result.dataEnd > result.validEnd {
            logger.warning(
                "journal: cutting a \(result.ending) tail",
                metadata: [
                    "segment": "\(seg.dataPath)", "validBytes": "\(result.validEnd)",
                    "tailBytes": "\(result.dataEnd - result.validEnd)", "fileBytes": "\(fileSize)",
                ])
            recovery.truncatedBytes += result.dataEnd - result.validEnd
        }
        let keepZeros = !sealed && result.ending == .clean
        if result.validEnd < fileSize && !keepZeros {
            if result.ending == .clean {
                logger.info(
                    "journal: cutting the zero-filled tail of a sealed segment (its seal was not written)",
                    metadata: ["segment": "\(seg.dataPath)", "bytes": "\(fileSize - result.validEnd)"])
            }
            try FileIO.truncate(fd, to: result.validEnd, path: seg.dataPath)
        }
        if result.validEnd < Int64(JournalSegment.magic.count) {
            try FileIO.pwriteAll(fd, JournalSegment.magic, at: 0, path: seg.dataPath)
            out.size = Int64(JournalSegment.magic.count)
        } else {
            out.size = result.validEnd
        }
        try FileIO.sync(fd, path: seg.dataPath)
        var index = [UInt8]()
        index.reserveCapacity(result.entries.count * JournalSegment.indexEntryBytes)
        for e in result.entries {
            withUnsafeBytes(of: e.seq.littleEndian) { index.append(contentsOf: $0) }
            withUnsafeBytes(of: e.offset.littleEndian) { index.append(contentsOf: $0) }
        }
        let ifd = try FileIO.open(seg.indexPath, flags: O_WRONLY | O_CREAT | O_TRUNC)
        defer { Glibc.close(ifd) }
        try FileIO.writeAll(ifd, index, path: seg.indexPath)
        try FileIO.sync(ifd, path: seg.indexPath)
        if sealed {  // after the data and the entries are on disk (SealedSegment)
            try FileIO.writeAll(ifd, SealedSegment.sealEntry(size: out.size), path: seg.indexPath)
            try FileIO.sync(ifd, path: seg.indexPath)
        }
        out.records = result.entries.count
        out.firstSeq = result.entries.first?.seq ?? 0
        out.lastSeq = result.entries.last?.seq ?? 0
        out.lastTime = result.lastTime
        return out
    }
}
