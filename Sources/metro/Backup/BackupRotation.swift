import Foundation

/// `metro backup --into DIR --keep N`: scheduled backups (a systemd timer, cron)
/// in one folder, each named for the moment it began, UTC
/// (`metro-backup-20261205T110412Z`, so names sort as times do), and the
/// oldest whole ones removed once more than N are whole.
///
/// Only whole backups (with `metro-backup.json`) are counted and removed, and
/// only after the new one is whole: a failed run never costs an older backup.
/// A folder of the pattern without a manifest is a run that failed or was
/// killed (or one running now): it is named in the report, never removed,
/// since no run can tell a dead one from another still copying. Nothing else
/// in DIR is touched.
struct BackupRotation {
    static let prefix = "metro-backup-"
    let folder: String

    /// Makes `folder` (0700: backups hold user data and keys) if it is missing.
    func prepare() throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) {
            guard isFolder.boolValue else {
                throw BackupPlan.Refused(description: "\(folder) is a file, not a folder: give --into a folder")
            }
            return
        }
        try FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    /// The path of a new backup begun at `date`: `-2`, `-3` … after a name taken
    /// in the same second.
    func newTarget(at date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let base = folder + "/" + Self.prefix + formatter.string(from: date)
        var candidate = base
        var n = 1
        while FileManager.default.fileExists(atPath: candidate) {
            n += 1
            candidate = "\(base)-\(n)"
        }
        return candidate
    }

    /// The backups in the folder by name, oldest first: whole ones (with a
    /// manifest) and the others.
    func inventory() -> (whole: [String], partial: [String]) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { $0.hasPrefix(Self.prefix) }.sorted()
        var whole: [String] = []
        var partial: [String] = []
        for name in names {
            let manifest = "\(folder)/\(name)/\(BackupManifest.fileName)"
            if FileManager.default.fileExists(atPath: manifest) { whole.append(name) } else { partial.append(name) }
        }
        return (whole, partial)
    }

    /// Removes the oldest whole backups until `keep` are left (never `newest`);
    /// the names removed.
    func prune(keep: Int, newest: String) throws -> [String] {
        let whole = inventory().whole.filter { $0 != newest }
        let excess = max(0, whole.count + 1 - keep)
        let removed = Array(whole.prefix(excess))
        for name in removed {
            try FileManager.default.removeItem(atPath: "\(folder)/\(name)")
        }
        return removed
    }
}
