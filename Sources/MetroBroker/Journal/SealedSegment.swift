#if canImport(Glibc)
    import Glibc
#endif

/// A segment the journal has stopped writing (`Journal.roll`), on its way to being
/// complete on disk. The loop hands it over and never touches its descriptors
/// again; `sealAndClose` then runs on the syncer's thread (or inline when the
/// journal has no syncer).
///
/// Sealing, in this order (protocol.md Appendix B):
/// 1. fdatasync the data and index files: every record is on disk;
/// 2. cut the data file to `size` (the zero-filled space past the last record,
///    see `ZeroFill`) and fdatasync it;
/// 3. append the seal entry (`seq 0, offset = size`) to the index and fdatasync it.
///
/// Recovery trusts a sealed segment's index only when it ends with a seal entry
/// whose offset is the data file's size. The order makes that sound: with zero
/// fill, records overwrite zeros, and ext4 does not order such overwrites with
/// metadata, so after a crash a file can have its full size but an older page in
/// the middle. A seal is only written after step 1, so a seal on disk means the
/// records were too. A crash before step 3 leaves no seal (and maybe a zero tail):
/// recovery rescans that segment, cuts its tail and seals it then.
package struct SealedSegment: Sendable {
    package let dataFD: Int32
    package let indexFD: Int32
    /// Bytes of records (with the magic): the data file is cut to this.
    package let size: Int64
    /// Index entries before the seal.
    let records: Int
    let dataPath: String
    let indexPath: String

    /// The seal entry: seq 0 (no record has it), offset = the data file's size.
    static func sealEntry(size: Int64) -> [UInt8] {
        withUnsafeBytes(of: UInt64(0).littleEndian) { Array($0) }
            + withUnsafeBytes(of: UInt64(size).littleEndian) { Array($0) }
    }

    /// Seals (steps above) and closes both files. `sync` is the fdatasync to use
    /// (the syncer's timed one). A failed sync is thrown: nothing of this segment
    /// may be called durable then (`JournalError.isSyncFailure`). Other failures
    /// (a full disk cutting or appending the seal) are not: a segment left unsealed
    /// is rescanned and sealed by the next recovery. Returns whether it was sealed.
    @discardableResult
    func sealAndClose(sync: (Int32, String) throws(JournalError) -> Void) throws(JournalError) -> Bool {
        defer { close() }
        try sync(dataFD, dataPath)
        try sync(indexFD, indexPath)
        do throws(JournalError) {
            if try FileIO.size(dataFD, path: dataPath) > size {
                try FileIO.truncate(dataFD, to: size, path: dataPath)
                try sync(dataFD, dataPath)
            }
            try FileIO.pwriteAll(
                indexFD, Self.sealEntry(size: size), at: Int64(records * JournalSegment.indexEntryBytes),
                path: indexPath)
        } catch  where !error.isSyncFailure {
            return false
        }
        try sync(indexFD, indexPath)
        return true
    }

    /// Closes both files without syncing or sealing (after a storage failure: the
    /// next recovery rescans the segment).
    func close() {
        Glibc.close(dataFD)
        Glibc.close(indexFD)
    }
}
