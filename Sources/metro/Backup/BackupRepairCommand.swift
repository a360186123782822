import ArgumentParser
import Foundation
import MetroBroker

/// `metro backup repair-journal --from BACKUP`: puts each damaged sealed segment
/// of a stopped system's journal back from a backup's copy of it (`JournalRepair`).
/// Unlike restoring the whole folder, nothing journaled after the backup is
/// lost: sealed segments never change, so the backup's copy is the segment as
/// the broker wrote it. Refused while a broker runs on the folder (it holds
/// `broker.lock`). Exit 0 when nothing is left damaged, 1 otherwise.
struct BackupRepairCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair-journal",
        abstract: "Replace each damaged sealed journal segment with a backup's whole copy of it (system stopped).",
        discussion: """
            For a damaged journal record (alert MetroJournalDamaged, a group STOPPED before one, ERROR 206):
            stop the system, run this with the newest backup, start again. Only damaged sealed segments are
            replaced, and only by a copy that is whole and the same segment (same index, same records before
            the damage); every other file is left as it is, so no event journaled since the backup is lost.
            """)

    @Option(help: "The backup folder (made by metro backup) whose copy of the journal is used.")
    var from: String

    @Option(help: "The system's data folder (the one metro up was given); its journal is <data-dir>/broker.")
    var dataDir = "data"

    @Option(help: "The broker's own folder (what metro broker --data-dir was given), instead of <data-dir>/broker.")
    var journal: String?

    @OptionGroup var global: GlobalOptions

    func run(_ process: ProcessBootstrap) async throws {
        let journalFolder = journal ?? dataDir + "/broker"
        let backupFolder = from + "/broker"
        for (folder, what) in [(journalFolder, "journal"), (backupFolder, "backup's journal")] {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
                print("refused: no \(what) at \(folder)")
                throw ExitCode(1)
            }
        }
        let lock: DataFolderLock
        do { lock = try DataFolderLock(directory: journalFolder) } catch let held as DataFolderLock.Held {
            print(
                "refused: \(held.description): stop the system first (a running broker keeps the damaged file mapped and would never see the repair)"
            )
            throw ExitCode(1)
        }
        defer { lock.release() }
        let report = try JournalRepair.run(journal: journalFolder, backup: backupFolder)
        print(
            "checked \(report.sealed) sealed segment\(report.sealed == 1 ? "" : "s") of \(journalFolder)"
                + (report.unsealed > 0
                    ? " (\(report.unsealed) not sealed: the broker's recovery checks it at its start)" : ""))
        for outcome in report.damaged { print("  \(outcome)") }
        print("")
        if report.damaged.isEmpty {
            print("OK: no damaged record in a sealed segment; nothing to repair.")
            return
        }
        let repaired = report.damaged.filter { $0.notRepaired == nil }.count
        if report.allRepaired {
            print(
                "OK: \(repaired) segment\(repaired == 1 ? "" : "s") repaired, nothing lost. Start the system again: a group stopped before the record reads on."
            )
            return
        }
        let left = report.damaged.count - repaired
        print(
            "NOT OK: \(left) damaged segment\(left == 1 ? "" : "s") left as \(left == 1 ? "it was" : "they were"): repair from another backup, restore the whole data folder, or skip the record for each group stopped before it (metro broker skip-damaged G --seq N)."
        )
        throw ExitCode(1)
    }
}
