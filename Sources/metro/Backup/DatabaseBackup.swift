import Foundation
import GRDB

/// One service database copied with SQLite's online backup API (through GRDB):
/// the copy is one read transaction's snapshot, whatever the service's writers
/// do meanwhile, and they never wait for it (WAL). The copy is then opened
/// alone and checked: `PRAGMA quick_check`, its unsent outbox, its inbox.
///
/// Why not `cp`: a file copy of a database in WAL mode taken while a
/// checkpoint runs can mix pages of two moments; the backup API cannot.
struct DatabaseBackup {
    let service: String
    let source: String
    let target: String

    struct Copied: Codable, Equatable {
        var service: String
        var bytes: Int
        /// Events written in a transaction and not yet acknowledged by the broker:
        /// a system restored from the copy publishes them (the broker drops any
        /// it already holds, by event id, within its dedupe window).
        var unsentEvents: Int?
        /// Events whose effect the copy holds (the runtime's inbox).
        var handledEvents: Int?
        var copiedAt: Date
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    func copy() throws -> Copied {
        // SQLite makes -shm and -wal beside the source even for a read-only
        // reader: made by another user, they would lock the service out.
        if let owner = DoctorDatabases.otherOwner(of: source) {
            throw Failure(
                description:
                    "\(source) belongs to \(owner): run metro backup as \(owner) (a reader of another user would leave files there that \(service) cannot write)"
            )
        }
        var readOnly = Configuration()
        readOnly.readonly = true
        readOnly.label = "backup-\(service)"
        do {
            let from = try DatabaseQueue(path: source, configuration: readOnly)
            defer { try? from.close() }
            let to = try DatabaseQueue(path: target)
            try from.backup(to: to)
            // The copy's header says WAL, as the source's: end it checkpointed, in one file.
            try to.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
            try to.close()
        } catch let error as DatabaseError {
            throw Failure(description: "\(source) could not be copied (\(error))")
        }
        let copiedAt = Date()
        return try check(copiedAt: copiedAt)
    }

    /// Opens the copy alone and checks it.
    private func check(copiedAt: Date) throws -> Copied {
        let copy = try DatabaseQueue(path: target)
        defer { try? copy.close() }
        return try copy.read { db in
            let problems = try String.fetchAll(db, sql: "PRAGMA quick_check(5)").filter { $0 != "ok" }
            guard problems.isEmpty else {
                throw Failure(
                    description:
                        "the copy of \(source) fails SQLite's quick_check (\(problems.joined(separator: "; "))): is the source damaged? metro doctor checks it"
                )
            }
            let unsent =
                try db.tableExists("metro_outbox")
                ? try Int.fetchOne(db, sql: "SELECT count(*) FROM metro_outbox WHERE sent_at IS NULL") : nil
            let handled =
                try db.tableExists("metro_inbox") ? try Int.fetchOne(db, sql: "SELECT count(*) FROM metro_inbox") : nil
            let bytes = (try? FileManager.default.attributesOfItem(atPath: target)[.size] as? Int) ?? 0
            return Copied(
                service: service, bytes: bytes, unsentEvents: unsent, handledEvents: handled, copiedAt: copiedAt)
        }
    }
}
