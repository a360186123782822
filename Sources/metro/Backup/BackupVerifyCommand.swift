import ArgumentParser
import Foundation
import GRDB
import MetroBroker
import VideoProcessing

/// `metro backup verify DIR`: checks a backup again, as a restore would need
/// it, long after it was taken (a copied folder, a disk that rots):
/// - `metro-backup.json` is there (else the backup never finished);
/// - each database passes `PRAGMA integrity_check` and still holds the handled
///   and unsent events it held when copied (a difference means the folder was
///   used as a data folder since: restore from a copy of a backup, never the
///   backup itself);
/// - the journal scans as the broker's recovery would, with the events and seqs
///   the manifest says;
/// - every blob's SHA-256 is its name (content-addressed, so bit rot shows);
/// - the key files are there.
/// Exit status 0 when all holds, 1 with each problem listed. Read-only.
struct BackupVerifyCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Check a backup folder again: databases, journal, blobs, keys, manifest.")

    @Argument(help: "The backup folder.")
    var folder: String

    @OptionGroup var global: GlobalOptions

    func run(_ process: ProcessBootstrap) async throws {
        let report = BackupVerification(folder: folder).run()
        for line in report.lines { print(line) }
        if !report.problems.isEmpty {
            print("")
            print("NOT OK: \(report.problems.count) problem\(report.problems.count == 1 ? "" : "s"):")
            for problem in report.problems { print("  - \(problem)") }
            throw ExitCode(1)
        }
        print("")
        print("OK: \(folder) holds what it held when it was taken; restore from a copy of it.")
    }
}

/// The checks of `metro backup verify`, in order; what each found.
struct BackupVerification {
    let folder: String
    var lines: [String] = []
    var problems: [String] = []

    init(folder: String) { self.folder = folder }

    func run() -> BackupVerification {
        var out = self
        guard let manifest = try? BackupManifest.read(folder) else {
            out.problems.append(
                "no readable \(BackupManifest.fileName) in \(folder): the backup did not finish, or this is not a backup"
            )
            return out
        }
        let taken = ISO8601DateFormatter().string(from: manifest.startedAt)
        out.lines.append(
            "backup of \(manifest.source), taken \(taken)\(manifest.systemWasWriting ? " while the system ran" : "") by metro \(manifest.metroVersion)"
        )
        for expected in manifest.databases { out.check(database: expected) }
        if let journal = manifest.journal { out.check(journal: journal) }
        if let blobs = manifest.blobs { out.check(blobs: blobs) }
        if manifest.keyFiles > 0 {
            let found = FileTreeCopy.files(in: folder + "/keys").count
            if found == manifest.keyFiles {
                out.lines.append("  keys      \(found) files")
            } else {
                out.problems.append("keys: \(found) files, the backup had \(manifest.keyFiles)")
            }
        }
        return out
    }

    private mutating func check(database expected: DatabaseBackup.Copied) {
        let path = "\(folder)/\(expected.service)/\(expected.service).sqlite"
        do {
            var configuration = Configuration()
            configuration.readonly = true
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            let (problems, handled, unsent) = try queue.read { db -> ([String], Int?, Int?) in
                let problems = try String.fetchAll(db, sql: "PRAGMA integrity_check(5)").filter { $0 != "ok" }
                let handled =
                    try db.tableExists("metro_inbox")
                    ? try Int.fetchOne(db, sql: "SELECT count(*) FROM metro_inbox") : nil
                let unsent =
                    try db.tableExists("metro_outbox")
                    ? try Int.fetchOne(db, sql: "SELECT count(*) FROM metro_outbox WHERE sent_at IS NULL") : nil
                return (problems, handled, unsent)
            }
            if !problems.isEmpty {
                self.problems.append("\(path) fails integrity_check: \(problems.joined(separator: "; "))")
            } else if handled != expected.handledEvents || unsent != expected.unsentEvents {
                self.problems.append(
                    "\(path) changed since the backup (\(handled ?? 0) events handled, \(unsent ?? 0) unsent; it had \(expected.handledEvents ?? 0) and \(expected.unsentEvents ?? 0)): was the backup used as a data folder?"
                )
            } else {
                lines.append("  database  \(expected.service): passes integrity_check, as copied")
            }
        } catch {
            problems.append("\(path) cannot be read: \(error)")
        }
    }

    private mutating func check(journal expected: BackupManifest.Journal) {
        do {
            let found = try JournalBackup.verify(folder + "/broker")
            if found.records == expected.events && found.firstSeq == expected.firstSeq
                && found.lastSeq == expected.lastSeq
            {
                lines.append(
                    "  journal   \(found.segments) segment\(found.segments == 1 ? "" : "s"), \(found.records) events, seqs \(found.firstSeq)…\(found.lastSeq), as copied"
                )
            } else {
                problems.append(
                    "the journal holds \(found.records) events, seqs \(found.firstSeq)…\(found.lastSeq); the backup had \(expected.events), seqs \(expected.firstSeq)…\(expected.lastSeq)"
                )
            }
        } catch {
            problems.append("\(error)")
        }
    }

    /// The hex SHA-256 of a file, read 1 MiB at a time (a video may be gigabytes).
    static func sha256(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var hash = BlobHash()
        while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty { hash.update(chunk) }
        return hash.finalizeHex()
    }

    private mutating func check(blobs expected: BackupManifest.Blobs) {
        let root = BlobStore(dataFolder: folder).root
        var count = 0
        var wrong: [String] = []
        let shards = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { $0.utf8.count == 2 }
        for shard in shards.sorted() {
            for id in FileTreeCopy.files(in: "\(root)/\(shard)").filter(BlobStore.isID) {
                count += 1
                if Self.sha256("\(root)/\(shard)/\(id)") != id { wrong.append(id) }
            }
        }
        if !wrong.isEmpty {
            problems.append(
                "\(wrong.count) blob\(wrong.count == 1 ? "" : "s") whose bytes no longer match their name (SHA-256): \(wrong.prefix(3).joined(separator: ", "))"
            )
        }
        if count != expected.files {
            problems.append("\(count) blobs; the backup had \(expected.files)")
        } else if wrong.isEmpty {
            lines.append("  blobs     \(count) files, each matching its SHA-256")
        }
    }
}
