import MetroProtocol

/// Reads a segment file from the start and finds where its valid records end:
/// the recovery scan (a torn or corrupt tail ends the scan) and the index rebuild.
/// Pure over the bytes it is given; no writes.
struct SegmentScanner {
    enum Ending: Equatable { case clean, tornTail, corrupt, badMagic }

    struct Result {
        var validEnd: Int64
        var entries: [(seq: UInt64, offset: UInt64)] = []
        var lastTime: UInt64 = 0
        var ending: Ending = .clean
    }

    /// Scans `bytes` (a whole segment file). Records must have strictly increasing
    /// seqs above `after`; a record that breaks that ends the scan as corrupt.
    static func scan(_ bytes: UnsafeRawBufferPointer, after: UInt64) -> Result {
        let magic = JournalSegment.magic
        guard bytes.count >= magic.count else {
            return Result(validEnd: 0, ending: bytes.isEmpty ? .clean : .tornTail)
        }
        guard bytes.prefix(magic.count).elementsEqual(magic) else { return Result(validEnd: 0, ending: .badMagic) }
        var result = Result(validEnd: Int64(magic.count))
        var offset = magic.count
        var previous = after
        while offset < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            switch JournalRecord.probe(rest) {
            case .truncated:
                result.ending = .tornTail
                return result
            case .corrupt:
                result.ending = .corrupt
                return result
            case .record(let size, let seq, let time):
                guard seq > previous else {
                    result.ending = .corrupt
                    return result
                }
                result.entries.append((seq, UInt64(offset)))
                result.lastTime = time
                previous = seq
                offset += size
                result.validEnd = Int64(offset)
            }
        }
        return result
    }
}
