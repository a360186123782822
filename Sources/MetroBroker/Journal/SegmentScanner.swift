import MetroProtocol

/// Reads a segment file from the start and finds where its valid records end:
/// the recovery scan (a torn or corrupt tail ends the scan) and the index rebuild.
/// Pure over the bytes it is given; no writes.
///
/// A record length of 0 is the clean end of the log: the data file may end in
/// zero-filled space (`ZeroFill`, protocol.md Appendix B). Bytes after the last
/// valid record that are all zero are that space, not a torn tail; any non-zero
/// byte there is a torn or corrupt tail, and `dataEnd` says how far it reaches.
struct SegmentScanner {
    enum Ending: Equatable { case clean, tornTail, corrupt, badMagic }

    struct Result {
        var validEnd: Int64
        /// One past the last non-zero byte at or after `validEnd`; `validEnd` when
        /// only zeros (or nothing) follow the records.
        var dataEnd: Int64
        var entries: [(seq: UInt64, offset: UInt64)] = []
        var lastTime: UInt64 = 0
        var ending: Ending = .clean

        init(validEnd: Int64, ending: Ending = .clean) {
            self.validEnd = validEnd
            self.dataEnd = validEnd
            self.ending = ending
        }
    }

    /// Scans `bytes` (a whole segment file). Records must have strictly increasing
    /// seqs above `after`; a record that breaks that ends the scan as corrupt.
    static func scan(_ bytes: UnsafeRawBufferPointer, after: UInt64) -> Result {
        let magic = JournalSegment.magic
        let head = UnsafeRawBufferPointer(rebasing: bytes.prefix(magic.count))
        if head.count < magic.count && head.elementsEqual(magic.prefix(head.count)) {
            var torn = Result(validEnd: 0, ending: head.isEmpty ? .clean : .tornTail)
            torn.dataEnd = Int64(head.count)
            return torn  // the magic itself is torn
        }
        if !head.elementsEqual(magic) {
            // A file of zeros lost its magic in a crash (its first page never
            // reached the disk): an empty segment. Anything else is not ours.
            guard lastNonZero(head) == nil else { return Result(validEnd: 0, ending: .badMagic) }
            return end(Result(validEnd: 0), bytes, at: 0, ending: .tornTail)
        }
        var result = Result(validEnd: Int64(magic.count))
        var offset = magic.count
        var previous = after
        while offset < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            if rest.count < 4 || rest.loadUnaligned(as: UInt32.self) == 0 {
                return end(result, bytes, at: offset, ending: .tornTail)
            }
            switch JournalRecord.probe(rest) {
            case .truncated:
                return end(result, bytes, at: offset, ending: .tornTail)
            case .corrupt:
                return end(result, bytes, at: offset, ending: .corrupt)
            case .record(let size, let seq, let time):
                guard seq > previous else { return end(result, bytes, at: offset, ending: .corrupt) }
                result.entries.append((seq, UInt64(offset)))
                result.lastTime = time
                previous = seq
                offset += size
                result.validEnd = Int64(offset)
                result.dataEnd = result.validEnd
            }
        }
        return result
    }

    /// Ends the scan at `offset`: `.clean` if only zeros follow, else `ending`
    /// with `dataEnd` past the last non-zero byte.
    private static func end(_ result: Result, _ bytes: UnsafeRawBufferPointer, at offset: Int, ending: Ending)
        -> Result
    {
        var out = result
        if let last = lastNonZero(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
            out.ending = ending
            out.dataEnd = Int64(offset + last + 1)
        } else {
            out.ending = .clean
            out.dataEnd = out.validEnd
        }
        return out
    }

    /// The index of the last non-zero byte, or nil if all are zero. Reads 8 bytes
    /// at a time from the end (a zero tail is a few MiB).
    static func lastNonZero(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var i = bytes.count
        while i > 0 && i & 7 != 0 {
            i -= 1
            if bytes[i] != 0 { return i }
        }
        while i >= 8 {
            if bytes.loadUnaligned(fromByteOffset: i - 8, as: UInt64.self) != 0 {
                for j in stride(from: i - 1, through: i - 8, by: -1) where bytes[j] != 0 { return j }
            }
            i -= 8
        }
        return nil
    }
}
