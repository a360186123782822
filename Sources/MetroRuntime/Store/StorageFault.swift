import GRDB

/// Errors of a service's own database that speak about the machine, not about the
/// call or the event: the disk is full, the file system fails its I/O, another
/// writer held the database past the busy timeout. They pass; retrying the same
/// work later succeeds. The runtime therefore never lets one of them dead-letter an
/// event (`DeliveryProcessor` holds the delivery and retries in place), and answers
/// an rpc call whose write was refused by one with 205 `storage-failure` when nothing
/// of the call committed (`ServiceDefinition.rpc`).
enum StorageFault {
    /// Whether `error` is such a fault.
    static func isTransient(_ error: any Error) -> Bool {
        guard let e = error as? DatabaseError else { return false }
        switch e.resultCode {
        case .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_BUSY: return true
        default: return false
        }
    }

    /// Why a write was refused before anything of it was stored, for a caller: set for
    /// a full disk and a writer lock not obtained (both roll the transaction back
    /// whole); nil for an I/O error, after which SQLite cannot say what reached
    /// the disk.
    static func refusedWrite(_ error: any Error) -> String? {
        guard let e = error as? DatabaseError else { return nil }
        switch e.resultCode {
        case .SQLITE_FULL: return "the service's disk is full"
        case .SQLITE_BUSY: return "the service's database stayed locked by another writer past the busy timeout"
        default: return nil
        }
    }
}
