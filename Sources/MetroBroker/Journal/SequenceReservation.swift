#if canImport(Glibc)
    import Glibc
#endif

/// Keeps seqs from ever being reused across a crash (protocol.md §4.1).
///
/// Live fan-out sends an event before its record is durable, so after a kill -9
/// the journal may end below seqs that subscribers already saw. The broker
/// therefore reserves seqs in blocks: `seq.reserve` holds a limit, fsynced
/// before any seq above the old limit is used. After a crash the broker resumes
/// above the limit (a gap in seqs, never a reuse); a clean stop writes the last
/// seq used as the limit, so a clean restart has no gap.
package final class SequenceReservation {
    package static let blockSize: UInt64 = 1 << 20
    let path: String
    private let fd: Int32
    /// Seqs up to this may be handed out without touching the disk.
    package private(set) var limit: UInt64

    /// Opens `directory/seq.reserve`; `limit` is 0 when it does not exist.
    package init(directory: String) throws(JournalError) {
        path = directory + "/seq.reserve"
        fd = try FileIO.open(path, flags: O_RDWR | O_CREAT)
        let bytes = try FileIO.pread(fd, count: 8, at: 0, path: path)
        limit = bytes.count == 8 ? bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) } : 0
    }

    deinit { Glibc.close(fd) }

    /// Makes every seq up to `seq` usable, reserving a new block if needed (one
    /// fdatasync per `blockSize` seqs). Loop thread.
    @inline(__always)
    package func ensure(_ seq: UInt64) throws(JournalError) {
        if seq <= limit { return }
        try store(seq + Self.blockSize)
    }

    /// Records that the broker stopped cleanly after using seqs up to `last`.
    package func closeCleanly(last: UInt64) throws(JournalError) { try store(last) }

    /// The limit moves only once it is on disk. A failed write leaves it where it
    /// was (no seq above it is handed out: the caller refuses the event); a failed
    /// sync is thrown like any other (`JournalError.isSyncFailure`: the broker stops).
    private func store(_ value: UInt64) throws(JournalError) {
        try FileIO.pwriteAll(fd, withUnsafeBytes(of: value.littleEndian) { Array($0) }, at: 0, path: path)
        try FileIO.sync(fd, path: path)
        limit = value
    }
}
