import Foundation
import MetroBroker
import VideoProcessing

#if canImport(Glibc)
    import Glibc
#endif

/// The parts of a `metro backup`, in the order that keeps a restored system
/// whole (`BackupCommand` says why each comes where it does).
struct BackupPlan {
    let source: String
    let target: String
    var pauseMs = 0

    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    /// Refuses what cannot give a backup, before anything is copied.
    static func check(source: String, target: String) throws {
        if FileManager.default.fileExists(atPath: source) && access(source, R_OK | X_OK) != 0 {
            throw Refused(
                description:
                    "cannot read \(source): \(String(cString: strerror(errno))) (run metro backup as the user that runs the system)"
            )
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source + "/broker", isDirectory: &isFolder), isFolder.boolValue
        else {
            throw Refused(
                description:
                    "\(source) is not a Metro data folder (no broker/ in it): give the folder metro up was started with (--data-dir)"
            )
        }
        if target == source || target.hasPrefix(source + "/") {
            throw Refused(
                description:
                    "\(target) is inside the data folder: a backup must live elsewhere (ideally another disk), or it is lost with the folder"
            )
        }
        if source.hasPrefix(target + "/") {
            throw Refused(description: "\(target) holds the data folder: give a new or empty folder")
        }
        var targetIsFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: target, isDirectory: &targetIsFolder), !targetIsFolder.boolValue {
            throw Refused(description: "\(target) is a file, not a folder: give a new or empty folder")
        }
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: target), !entries.isEmpty {
            throw Refused(description: "\(target) is not empty: give a new or empty folder")
        }
    }

    func run() async throws -> BackupManifest {
        let started = Date()
        var manifest = BackupManifest(source: source, startedAt: started)
        try FileTreeCopy.makeFolder(target)
        _ = chmod(target, 0o700)
        let brokerSource = source + "/broker"
        let brokerTarget = target + "/broker"
        try FileTreeCopy.makeFolder(brokerTarget, mode: 0o755)

        // 1. The groups' positions, before anything they may be behind.
        manifest.groupStateBytes = try JournalBackup.copyFile(
            named: "groups.state", from: brokerSource, to: brokerTarget)
        manifest.groupStateCopiedAt = Date()
        try await pause()

        // 2. Each service database: Metro's own and any other service on the
        // runtime's layout (`<data>/<service>/<service>.sqlite`).
        for service in DataFolderLayout.services(in: source) {
            let path = "\(source)/\(service)/\(service).sqlite"
            try FileTreeCopy.makeFolder("\(target)/\(service)", mode: 0o755)
            let copied = try DatabaseBackup(
                service: service, source: path, target: "\(target)/\(service)/\(service).sqlite"
            ).copy()
            manifest.databases.append(copied)
            try await pause()
        }

        // 3. The video blobs every copied database may name.
        let blobs = BlobStore(dataFolder: source).root
        if FileManager.default.fileExists(atPath: blobs) {
            let into = BlobStore(dataFolder: target).root
            var count = 0
            var bytes: Int64 = 0
            let shards = ((try? FileManager.default.contentsOfDirectory(atPath: blobs)) ?? []).filter {
                $0.utf8.count == 2
            }
            for shard in shards.sorted() {
                let ids = FileTreeCopy.files(in: "\(blobs)/\(shard)").filter(BlobStore.isID)
                guard !ids.isEmpty else { continue }
                try FileTreeCopy.makeFolder("\(into)/\(shard)", mode: 0o755)
                for id in ids {
                    // The storage sweep may have removed an unnamed old blob since the listing.
                    guard FileManager.default.fileExists(atPath: "\(blobs)/\(shard)/\(id)") else { continue }
                    bytes += try FileTreeCopy.copyFile("\(blobs)/\(shard)/\(id)", to: "\(into)/\(shard)/\(id)")
                    count += 1
                }
                try FileTreeCopy.syncFolder("\(into)/\(shard)")
            }
            manifest.blobs = .init(files: count, bytes: bytes)
            try await pause()
        }

        // 4. The journal, last of the data.
        let journal = try JournalBackup.copyJournal(from: brokerSource, to: brokerTarget)
        manifest.journal = .init(journal)
        manifest.journalCopiedAt = Date()

        // 5. The seq reservation, after every seq the journal copy holds.
        manifest.seqReserveCopied =
            try JournalBackup.copyFile(named: "seq.reserve", from: brokerSource, to: brokerTarget) != nil

        // 6. A secure system's keys.
        let keys = FileTreeCopy.files(in: source + "/keys")
        if !keys.isEmpty {
            try FileTreeCopy.makeFolder(target + "/keys")
            for name in keys { try FileTreeCopy.copyFile("\(source)/keys/\(name)", to: "\(target)/keys/\(name)") }
            try FileTreeCopy.syncFolder(target + "/keys")
            manifest.keyFiles = keys.count
        }

        manifest.notCopied = Self.notCopied(in: source)
        manifest.systemWasWriting = Self.modified(since: started, in: brokerSource)
        manifest.finishedAt = Date()
        for folder in [brokerTarget] + manifest.databases.map({ "\(target)/\($0.service)" }) {
            try FileTreeCopy.syncFolder(folder)
        }
        // Last: its presence says the folder is a whole backup.
        let file = target + "/" + BackupManifest.fileName
        try Data(manifest.json().utf8).write(to: URL(fileURLWithPath: file + ".tmp"))
        let fd = open(file + ".tmp", O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
        guard rename(file + ".tmp", file) == 0 else {
            throw Refused(description: "rename \(file): \(String(cString: strerror(errno)))")
        }
        try FileTreeCopy.syncFolder(target)
        return manifest
    }

    private func pause() async throws {
        if pauseMs > 0 { try await Task.sleep(for: .milliseconds(pauseMs)) }
    }

    /// What is not copied, said in the report: entries of the data folder that are
    /// not Metro's, and in the folder of a service of your own what is not its
    /// database (only `<service>.sqlite` is copied; Metro's own services' other
    /// files are in flight: uploads, work, locks).
    static func notCopied(in source: String) -> [String] {
        let services = DataFolderLayout.services(in: source)
        // `up.status.json`: `metro up`'s children now, of no use to a restored system.
        let known = Set(
            ["broker", "keys", UpStatus.fileName, UpStatus.fileName + ".tmp"] + SystemFile.serviceNames + services)
        var out = ((try? FileManager.default.contentsOfDirectory(atPath: source)) ?? []).filter { !known.contains($0) }
        for service in services where !SystemFile.serviceNames.contains(service) {
            let own = ["\(service).sqlite", "\(service).sqlite-wal", "\(service).sqlite-shm"]
            out += ((try? FileManager.default.contentsOfDirectory(atPath: "\(source)/\(service)")) ?? []).filter {
                !own.contains($0) && !$0.hasSuffix(".lock")
            }.map { "\(service)/\($0)" }
        }
        return out.sorted()
    }

    /// Whether the broker wrote its journal or its groups' state since `date` (the system ran).
    static func modified(since date: Date, in brokerFolder: String) -> Bool {
        FileTreeCopy.files(in: brokerFolder).contains { name in
            guard name.hasSuffix(".seg") || name == "groups.state" else { return false }
            let modified =
                try? FileManager.default.attributesOfItem(atPath: "\(brokerFolder)/\(name)")[
                    .modificationDate] as? Date
            return (modified ?? .distantPast) >= date
        }
    }
}
