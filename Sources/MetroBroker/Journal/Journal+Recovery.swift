import MetroProtocol

#if canImport(Glibc)
    import Glibc
#endif

extension Journal {
    /// Opens every segment: sealed ones are checked through their index (rebuilt if it
    /// disagrees with the data), the active (last) one is scanned and its tail cut.
    func recover() throws(JournalError) {
        let bases = try FileIO.list(directory).compactMap(JournalSegment.base(ofFileName:)).sorted()
        var after: UInt64 = 0
        for (i, base) in bases.enumerated() {
            var seg = JournalSegment(base: base, directory: directory, size: 0, records: 0)
            if i < bases.count - 1, let checked = try checkSealed(seg, after: after) {
                seg = checked
            } else {
                seg = try rescan(seg, after: after)
            }
            if seg.records > 0 { after = seg.lastSeq }
            recovery.records += seg.records
            segments.append(seg)
        }
        recovery.segments = segments.count
        recovery.lastSeq = after
        if segments.isEmpty {
            try createSegment(base: 1)
            FileIO.syncDirectory(directory)
        } else {
            let seg = segments[segments.count - 1]
            dataFD = try FileIO.open(seg.dataPath, flags: O_WRONLY)
            _ = lseek(dataFD, off_t(seg.size), SEEK_SET)
            indexFD = try FileIO.open(seg.indexPath, flags: O_WRONLY)
            _ = lseek(indexFD, off_t(seg.records * JournalSegment.indexEntryBytes), SEEK_SET)
        }
    }

    /// A sealed segment whose index matches its data, read from the index alone; nil if not.
    private func checkSealed(_ seg: JournalSegment, after: UInt64) throws(JournalError) -> JournalSegment? {
        guard let idx = try? MappedFile(path: seg.indexPath), idx.bytes.count > 0,
            idx.bytes.count % JournalSegment.indexEntryBytes == 0
        else { return nil }
        let entries = idx.bytes.count / JournalSegment.indexEntryBytes
        let firstSeq = UInt64(littleEndian: idx.bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        let lastAt = (entries - 1) * JournalSegment.indexEntryBytes
        let lastSeq = UInt64(littleEndian: idx.bytes.loadUnaligned(fromByteOffset: lastAt, as: UInt64.self))
        let lastOffset = Int(UInt64(littleEndian: idx.bytes.loadUnaligned(fromByteOffset: lastAt + 8, as: UInt64.self)))
        guard firstSeq > after, let data = try? MappedFile(path: seg.dataPath), lastOffset < data.bytes.count else {
            return nil
        }
        guard
            case .record(let size, let seq, let time) = JournalRecord.probe(
                UnsafeRawBufferPointer(rebasing: data.bytes[lastOffset...])),
            seq == lastSeq, lastOffset + size == data.bytes.count
        else { return nil }
        var out = seg
        out.size = Int64(data.bytes.count)
        out.records = entries
        out.firstSeq = firstSeq
        out.lastSeq = lastSeq
        out.lastTime = time
        return out
    }

    /// Scans a segment's data, cuts a torn or corrupt tail, and rewrites its index.
    private func rescan(_ seg: JournalSegment, after: UInt64) throws(JournalError) -> JournalSegment {
        let result: SegmentScanner.Result
        let fileSize: Int64
        do {
            let data = try MappedFile(path: seg.dataPath)
            result = SegmentScanner.scan(data.bytes, after: after)
            fileSize = Int64(data.bytes.count)
        }
        if result.ending == .badMagic {
            throw JournalError(operation: "recover (not a Metro journal segment)", path: seg.dataPath, errno: EINVAL)
        }
        var out = seg
        let fd = try FileIO.open(seg.dataPath, flags: O_WRONLY)
        defer { Glibc.close(fd) }
        if result.validEnd < fileSize {
            logger.warning(
                "journal: cutting a \(result.ending) tail",
                metadata: [
                    "segment": "\(seg.dataPath)", "validBytes": "\(result.validEnd)", "fileBytes": "\(fileSize)",
                ])
            recovery.truncatedBytes += fileSize - result.validEnd
            try FileIO.truncate(fd, to: result.validEnd, path: seg.dataPath)
        }
        if result.validEnd < Int64(JournalSegment.magic.count) {
            try FileIO.pwriteAll(fd, JournalSegment.magic, at: 0, path: seg.dataPath)
            out.size = Int64(JournalSegment.magic.count)
        } else {
            out.size = result.validEnd
        }
        FileIO.sync(fd)
        var index = [UInt8]()
        index.reserveCapacity(result.entries.count * JournalSegment.indexEntryBytes)
        for e in result.entries {
            withUnsafeBytes(of: e.seq.littleEndian) { index.append(contentsOf: $0) }
            withUnsafeBytes(of: e.offset.littleEndian) { index.append(contentsOf: $0) }
        }
        let ifd = try FileIO.open(seg.indexPath, flags: O_WRONLY | O_CREAT | O_TRUNC)
        defer { Glibc.close(ifd) }
        try FileIO.writeAll(ifd, index, path: seg.indexPath)
        FileIO.sync(ifd)
        out.records = result.entries.count
        out.firstSeq = result.entries.first?.seq ?? 0
        out.lastSeq = result.entries.last?.seq ?? 0
        out.lastTime = result.lastTime
        return out
    }
}
