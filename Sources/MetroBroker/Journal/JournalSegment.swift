/// One segment of the journal: `<base seq, 20 digits>.seg` holds records, the
/// sidecar `<base>.idx` holds one 16-byte entry (seq u64 LE, offset u64 LE) per
/// record, so a seq is found by two binary searches and never by a scan
/// (protocol.md Appendix B). Only the journal's owning thread touches it.
struct JournalSegment {
    static let magic: [UInt8] = Array("MTRJNL01".utf8)
    static let indexEntryBytes = 16

    /// The first seq this segment may hold (its records all have seq >= base).
    let base: UInt64
    let directory: String
    /// Bytes in the segment file (including the 8-byte magic).
    var size: Int64
    var records: Int
    var firstSeq: UInt64 = 0
    var lastSeq: UInt64 = 0
    /// Time of the last record (ns), for retention by age.
    var lastTime: UInt64 = 0

    var dataPath: String { Self.path(directory, base, "seg") }
    var indexPath: String { Self.path(directory, base, "idx") }

    static func path(_ directory: String, _ base: UInt64, _ ext: String) -> String {
        let digits = String(base)
        return directory + "/" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + "." + ext
    }

    /// The base seq in a file name like `00000000000000000001.seg`, or nil.
    static func base(ofFileName name: String) -> UInt64? {
        guard name.hasSuffix(".seg"), name.utf8.count == 24 else { return nil }
        return UInt64(name.prefix(20))
    }

    /// Total bytes on disk (data and index).
    var diskBytes: Int64 { size + Int64(records * Self.indexEntryBytes) }
}
