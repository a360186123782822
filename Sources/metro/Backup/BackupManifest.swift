import Foundation
import MetroBroker

/// What a `metro backup` folder holds, written last as `metro-backup.json`
/// (its presence says the backup is whole), and what `--json` prints.
struct BackupManifest: Codable {
    static let fileName = "metro-backup.json"

    var format = 1
    var metroVersion = MetroVersion.string
    var source: String
    var startedAt: Date
    var finishedAt: Date?
    var groupStateBytes: Int64?
    var groupStateCopiedAt: Date?
    var databases: [DatabaseBackup.Copied] = []
    var blobs: Blobs?
    var journal: Journal?
    var journalCopiedAt: Date?
    var seqReserveCopied = false
    var keyFiles = 0
    /// Entries of the data folder that are not Metro's (not copied).
    var notCopied: [String] = []
    /// The broker wrote while the backup ran: the system was running.
    var systemWasWriting = false

    struct Blobs: Codable {
        var files: Int
        var bytes: Int64
    }

    struct Journal: Codable {
        var segments: Int
        var events: Int
        var firstSeq: UInt64
        var lastSeq: UInt64
        var bytes: Int64
        /// Bytes of a record being written when the last segment was read: not copied.
        var cutBytes: Int64

        init(_ copied: JournalBackup.Copied) {
            segments = copied.segments
            events = copied.records
            firstSeq = copied.firstSeq
            lastSeq = copied.lastSeq
            bytes = copied.bytes
            cutBytes = copied.cutBytes
        }
    }

    init(source: String, startedAt: Date) {
        self.source = source
        self.startedAt = startedAt
    }

    /// How long after the first database copy the journal was copied: the window in
    /// which a service may have published events from rows its copy lacks.
    var databaseToJournalMs: Int? {
        guard let first = databases.first?.copiedAt, let journal = journalCopiedAt else { return nil }
        return max(0, Int(journal.timeIntervalSince(first) * 1000))
    }

    func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func read(_ folder: String) throws -> BackupManifest {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(
            BackupManifest.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/" + fileName)))
    }
}

/// The human report of a backup: what was copied, what the copy promises, and
/// how to restore it.
struct BackupReport {
    let manifest: BackupManifest
    let dataDir: String
    let out: String

    var text: String {
        let m = manifest
        var lines = ["Backup of \(dataDir) into \(out):"]
        func row(_ part: String, _ detail: String) {
            lines.append("  " + part.padding(toLength: 10, withPad: " ", startingAt: 0) + detail)
        }
        row("groups", m.groupStateBytes.map { "the consumer groups' positions (\(Self.size($0)))" } ?? "none yet")
        for db in m.databases {
            var detail = "\(db.service): \(Self.size(Int64(db.bytes))), passes quick_check"
            if let handled = db.handledEvents { detail += "; \(handled) event\(handled == 1 ? "" : "s") handled" }
            if let unsent = db.unsentEvents { detail += ", \(unsent) waiting in its outbox" }
            row("database", detail)
        }
        if let blobs = m.blobs {
            row("blobs", "video: \(blobs.files) file\(blobs.files == 1 ? "" : "s"), \(Self.size(blobs.bytes))")
        }
        if let j = m.journal {
            let seqs = j.events == 0 ? "no events" : "\(j.events) events, seqs \(j.firstSeq)…\(j.lastSeq)"
            row("journal", "\(j.segments) segment\(j.segments == 1 ? "" : "s"), \(seqs), \(Self.size(j.bytes))")
        }
        if m.keyFiles > 0 { row("keys", "\(m.keyFiles) files (secret keys keep mode 0600)") }
        if !m.notCopied.isEmpty { row("skipped", "\(m.notCopied.joined(separator: ", ")) (not Metro's data)") }
        let seconds = (m.finishedAt ?? m.startedAt).timeIntervalSince(m.startedAt)
        lines.append("")
        if m.systemWasWriting {
            lines.append(
                "Done in \(String(format: "%.1f", seconds)) s, while the system ran. The journal was copied last, \(m.databaseToJournalMs.map { "\($0) ms" } ?? "just") after the first database: it holds every event the databases had published, and events they had handled are not handled twice after a restore. Events published in that window may come from rows the copied databases lack (docs/operations.md, \"Backups\")."
            )
        } else {
            lines.append(
                "Done in \(String(format: "%.1f", seconds)) s. The broker wrote nothing meanwhile (the system was stopped or idle): the journal and the databases are of one moment."
            )
        }
        lines.append("Restore: stop the system, then")
        lines.append("  mv \(dataDir) \(dataDir).replaced && cp -a \(out) \(dataDir) && metro up --data-dir \(dataDir)")
        return lines.joined(separator: "\n")
    }

    static func size(_ bytes: Int64) -> String {
        bytes < 1 << 10
            ? "\(bytes) B"
            : bytes < 1 << 20
                ? "\(bytes >> 10) KiB" : String(format: "%.1f MiB", Double(bytes) / Double(1 << 20))
    }
}
