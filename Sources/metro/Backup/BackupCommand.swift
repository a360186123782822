import ArgumentParser
import Foundation
import MetroBroker
import VideoProcessing

/// `metro backup`: a copy of a system's data folder, taken while it runs,
/// that `metro up` can start on (docs/operations.md, "Backups").
///
/// A running system has no single moment to copy: the broker's journal, its
/// groups' positions and each service's database change apart. The order of
/// the copy is what makes a restored system whole:
/// 1. the groups' positions (`broker/groups.state`) first: every event a group
///    had acknowledged then was handled, and its effect committed, before the
///    databases are copied; the events after it are delivered again to the
///    restored system, and each service's inbox skips those it already handled;
/// 2. each service database (SQLite's backup API: one snapshot each);
/// 3. the video blobs (content-addressed, never rewritten: every blob a copied
///    database names exists by now);
/// 4. the journal last (`JournalBackup`): every event a copied database's
///    outbox had sent is in it, so none is lost; the events published in the
///    backup's own short window may come from rows the copied databases lack;
/// 5. `seq.reserve` after the journal, so no seq is ever used twice;
/// 6. a secure system's keys, with their modes.
/// A copy of a stopped system is exact. `metro-backup.json`, written last,
/// says what the folder holds; a folder without it is not a whole backup.
/// `METRO_FAULT_BACKUP_PAUSE_MS` (tests) waits that long between the parts, to
/// widen the windows the order must cover.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy a system's data folder (journal, groups, service databases, blobs, keys), also while it runs.",
        discussion: """
            The copy is a data folder: to restore, stop the system and start it on a copy of the backup:
              mv data data.replaced && cp -a BACKUP data && metro up --data-dir data
            metro backup verify BACKUP checks a backup again (before you need it).
            metro backup repair-journal --from BACKUP puts a damaged journal segment back from it,
            losing nothing.
            """,
        subcommands: [BackupCreateCommand.self, BackupVerifyCommand.self, BackupRepairCommand.self],
        defaultSubcommand: BackupCreateCommand.self)
}

/// `metro backup [create]`: the copy (see `BackupCommand`).
struct BackupCreateCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Copy a data folder into a new backup folder (the default subcommand).")

    @Option(help: "The system's data folder (the one metro up was given).")
    var dataDir = "data"

    @Option(help: "The backup's folder: new, or empty (made with mode 0700: it holds user data and keys).")
    var out: String?

    @Option(
        help: ArgumentHelp(
            "A folder of backups: this one goes into a new metro-backup-<UTC time> folder in it (instead of --out).",
            discussion: "For a schedule (deploy/systemd/metro-backup.timer); with --keep, older ones are removed."))
    var into: String?

    @Option(help: "With --into: once this backup is whole, remove the oldest whole ones until this many are left.")
    var keep: Int?

    @Flag(help: "Print the manifest (metro-backup.json) instead of the report.")
    var json = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if (out == nil) == (into == nil) { throw ValidationError("give --out FOLDER or --into FOLDER (one of them)") }
        if let keep {
            if into == nil { throw ValidationError("--keep needs --into (the folder whose backups it counts)") }
            if keep < 1 { throw ValidationError("--keep must be at least 1") }
        }
    }

    func run(_ process: ProcessBootstrap) async throws {
        let source = URL(fileURLWithPath: dataDir).standardizedFileURL.path
        let rotation = into.map { BackupRotation(folder: URL(fileURLWithPath: $0).standardizedFileURL.path) }
        let target: String
        do {
            try rotation?.prepare()
            target = rotation?.newTarget(at: Date()) ?? URL(fileURLWithPath: out ?? "").standardizedFileURL.path
            try BackupPlan.check(source: source, target: target)
        } catch {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let pause = ProcessInfo.processInfo.environment["METRO_FAULT_BACKUP_PAUSE_MS"].flatMap(Int.init) ?? 0
        let manifest: BackupManifest
        do {
            manifest = try await BackupPlan(source: source, target: target, pauseMs: pause).run()
        } catch {
            let why = "\(error)".trimmingCharacters(in: CharacterSet(charactersIn: ". "))
            // Only a folder this run made (or filled) is to be removed: never the user's.
            // Under --into the folder is this run's own, new name: it goes at once.
            var left =
                FileManager.default.fileExists(atPath: target)
                ? " \(target) is not a whole backup (no metro-backup.json): remove it, and run metro backup again once the cause is fixed."
                : ""
            if rotation != nil, !left.isEmpty {
                left =
                    (try? FileManager.default.removeItem(atPath: target)) != nil
                    ? " Its folder \(target) is removed; the older backups are kept." : left
            }
            FileHandle.standardError.write(Data("Error: the backup failed: \(why).\(left)\n".utf8))
            throw ExitCode(1)
        }
        let rotated = rotation.map { rotationReport($0, newest: (target as NSString).lastPathComponent) }
        if json {
            print(manifest.json())
            if let rotated { FileHandle.standardError.write(Data((rotated + "\n").utf8)) }
        } else {
            print(
                BackupReport(manifest: manifest, dataDir: dataDir, out: target).text + (rotated.map { "\n" + $0 } ?? "")
            )
        }
    }

    /// After a whole backup under --into: what --keep removed, what is kept, and
    /// the folders that are not whole backups.
    private func rotationReport(_ rotation: BackupRotation, newest: String) -> String {
        var lines: [String] = []
        if let keep {
            do {
                let removed = try rotation.prune(keep: keep, newest: newest)
                if !removed.isEmpty { lines.append("Removed (--keep \(keep)): \(removed.joined(separator: ", "))") }
            } catch {
                lines.append("Could not remove the oldest backups (--keep \(keep)): \(error)")
            }
        }
        let (whole, partial) = rotation.inventory()
        lines.append(
            "\(rotation.folder) holds \(whole.count) whole backup\(whole.count == 1 ? "" : "s"), newest \(newest)")
        if !partial.isEmpty {
            lines.append(
                "Not whole (a backup that failed, was killed, or still runs): \(partial.joined(separator: ", ")): remove by hand once no backup runs"
            )
        }
        return lines.joined(separator: "\n")
    }
}
