import Foundation
import GRDB

#if canImport(Glibc)
    import Glibc
#endif

/// `metro doctor`'s look at the service databases of a data folder
/// (`<data>/<service>/<service>.sqlite`, docs/operations.md "Service databases"):
/// each one found is opened read-only and checked with SQLite's `PRAGMA
/// quick_check`, and the events waiting in its outbox are counted.
///
/// Why: a database that is not SQLite any more, or has a corrupt page, stops
/// that service's workers at every start; `metro up` gives up after 5 starts
/// with the worker's last line, and this says the same before anything starts,
/// with what to do. Read-only and in WAL mode, it is safe beside a running
/// system (it reads a snapshot; writers do not wait for it). A folder with no
/// database yet passes: the service makes it at its first start. A database of
/// another user is not opened (SQLite would leave its -shm and -wal files behind
/// owned by this user).
enum DoctorDatabases {
    static func checks(dataFolder: String) -> [DoctorCheck] {
        DataFolderLayout.services(in: dataFolder).compactMap { service in
            let path = "\(dataFolder)/\(service)/\(service).sqlite"
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            return check(service: service, path: path)
        }
    }

    static func check(service: String, path: String) -> DoctorCheck {
        let name = "database \(service)"
        // In WAL mode the newest pages are in the -wal file until a checkpoint.
        let bytes = [path, path + "-wal"].compactMap {
            try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int
        }.reduce(0, +)
        let size = mebibytes(bytes)
        // SQLite makes the -shm and -wal files even for a read-only reader: made by
        // another user (root, say), they would lock the service out of its own database.
        if let owner = otherOwner(of: path) {
            return DoctorCheck(
                name: name, ok: true,
                detail:
                    "\(path) not checked: it belongs to \(owner), and a reader of another user would leave files there that \(service) cannot write; run metro doctor as \(owner)",
                warning: true)
        }
        do {
            var configuration = Configuration()
            configuration.readonly = true
            configuration.label = "doctor-\(service)"
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            let (problems, waiting) = try queue.read { db -> ([String], Int?) in
                let problems = try String.fetchAll(db, sql: "PRAGMA quick_check(5)").filter { $0 != "ok" }
                let hasOutbox = try db.tableExists("metro_outbox")
                let waiting =
                    hasOutbox
                    ? try Int.fetchOne(db, sql: "SELECT count(*) FROM metro_outbox WHERE sent_at IS NULL") : nil
                return (problems, waiting)
            }
            if !problems.isEmpty {
                return DoctorCheck(
                    name: name, ok: false,
                    detail:
                        "\(path) is damaged (SQLite's quick_check: \(problems.joined(separator: "; "))): \(damaged(service))"
                )
            }
            let outbox =
                waiting.map { n in
                    n == 0
                        ? "nothing waits in its outbox"
                        : "\(n) event\(n == 1 ? "" : "s") wait in its outbox (published once the service runs and the broker takes events)"
                } ?? "not yet migrated (the service migrates it at its start)"
            return DoctorCheck(name: name, ok: true, detail: "\(path) (\(size)) passes SQLite's quick_check; \(outbox)")
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            return DoctorCheck(
                name: name, ok: false,
                detail:
                    "\(path) is not a SQLite database (\(error)): the \(service) workers will not start on it. \(remedy(service))"
            )
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CORRUPT {
            return DoctorCheck(name: name, ok: false, detail: "\(path) is damaged (\(error)): \(damaged(service))")
        } catch {
            return DoctorCheck(name: name, ok: false, detail: "\(path) cannot be read (\(error))")
        }
    }

    /// The owner of `path` when it is not this process's user (SQLite would leave
    /// -shm and -wal files there that the owner's service cannot write), else nil.
    static func otherOwner(of path: String) -> String? {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        guard let uid = attributes?[.ownerAccountID] as? Int, uid != Int(geteuid()) else { return nil }
        return attributes?[.ownerAccountName] as? String ?? "uid \(uid)"
    }

    private static func damaged(_ service: String) -> String {
        "the \(service) workers' reads and writes that touch the damaged pages fail. \(remedy(service))"
    }

    /// What the operator can do about a database the service cannot use.
    private static func remedy(_ service: String) -> String {
        "Stop the system and restore the data folder from a metro backup (docs/operations.md, \"Backups\"), or move it aside with its -wal and -shm files to start \(service) empty (what it held is then lost)"
    }

    private static func mebibytes(_ bytes: Int) -> String {
        bytes < 1 << 20 ? "\(bytes / 1024) KiB" : String(format: "%.1f MiB", Double(bytes) / Double(1 << 20))
    }
}
