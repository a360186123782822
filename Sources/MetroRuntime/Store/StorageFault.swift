import GRDB

/// Errors of a service's own database that speak about the machine, not about the
/// call or the event: the disk is full, the file system fails its I/O, another
/// writer held the database past the busy timeout. They pass; retrying the same
/// work later succeeds. The runtime therefore never lets one of them dead-letter an
/// event (`DeliveryProcessor` holds the delivery and retries in place), and answers
/// an rpc call whose write was refused by one with 205 `storage-failure` when nothing
/// of the call committed (`ServiceDefinition.rpc`). A handler's own files (blobs,
/// scratch files, a tool's outputs) say the same by throwing `StorageUnavailable`.
enum StorageFault {
    /// Whether `error` is such a fault.
    static func isTransient(_ error: any Error) -> Bool {
        if error is StorageUnavailable { return true }
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
        if let e = error as? StorageUnavailable { return e.reason }
        guard let e = error as? DatabaseError else { return nil }
        switch e.resultCode {
        case .SQLITE_FULL: return "the service's disk is full"
        case .SQLITE_BUSY: return "the service's database stayed locked by another writer past the busy timeout"
        default: return nil
        }
    }
}

/// Thrown by a handler when the machine's storage, not the event or the call, stopped
/// it before anything was stored: a file of the service's own (a blob, a scratch
/// file, an external tool's output) could not be written because the disk is full.
///
/// The runtime treats it as it treats SQLite's own full disk (`StorageFault`): an event
/// handler's delivery is held and retried in place, never NAKed towards the
/// dead-letter topic; an rpc handler's call is answered 205 `storage-failure` with
/// `reason` when no write of the call had committed (107 otherwise).
public struct StorageUnavailable: Error, Sendable, CustomStringConvertible {
    /// What refused, for the log and the caller ("the service's disk is full: …").
    public let reason: String

    public init(_ reason: String) { self.reason = reason }

    public var description: String { reason }
}
