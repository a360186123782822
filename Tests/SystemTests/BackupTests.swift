import Foundation
import GRDB
import MetroKit
import MetroProtocol
import MetroTestKit
import Profiles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `metro backup` of a running system, restored: the copy's journal holds
/// every event acknowledged before the backup began, and once the restored
/// system has caught up, the profiles service has handled each `video.watched`
/// of that journal exactly once (its history's event ids are the journal's),
/// and dead-lettered none. `METRO_FAULT_BACKUP_PAUSE_MS` widens each window
/// between the parts to 600 ms while views stream at ~1,000/s: copying the
/// groups' positions after the databases, or the journal before them, loses
/// effects or events here (checked by swapping the order in `BackupPlan`).
@Suite(.serialized) struct BackupTests {
    let up = UpTests()
    static let profilesOnly = ["--profiles", "1", "--video", "0", "--recommendations", "0"]

    func readyFields(_ p: MetroProcess) throws -> [String: String] {
        let line = try #require(up.readyLines(p).first)
        return try #require(
            try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: String])
    }

    func stats(_ consume: String) async throws -> BrokerStats {
        let frames = try await request(on: consume, ConsumeCodec.requestFrames(.stats))
        return try JSONDecoder().decode(BrokerStats.self, from: Data(frames[2]))
    }

    @Test func aBackupOfARunningSystemRestoresWithEveryEffectOnce() async throws {
        let (system, data, registry, dir) = try await up.startUp(services: Self.profilesOnly, timeout: .seconds(60))
        let fields = try readyFields(system)
        let ingest = try #require(fields["ingest"])

        // Three users, then views of them streaming while the backup runs.
        let registryClient = try RegistryClient(endpoints: [registry])
        let profiles = try RpcClient(service: "profiles", registry: registryClient)
        var users: [String] = []
        for name in ["Ada", "Grace", "Edsger"] {
            let user = try await profiles.call(
                ProfilesAPI.create, CreateProfileRequest(displayName: name, email: "\(name.lowercased())@example.com"),
                deadline: .seconds(60))
            users.append(user.id)
        }
        await profiles.close()
        await registryClient.close()

        let publisher = try Publisher(.init(ingest: ingest))
        let acked = Locked([(id: String, at: ContinuousClock.Instant)]())
        // The load's own error, if a publish fails, instead of a bare "timed out" below.
        let loadFailure = Locked<(any Error)?>(nil)
        let viewers = users
        @Sendable func streamViews() async throws {
            var n = 0
            while !Task.isCancelled {
                try await withThrowingTaskGroup(of: Void.self) { batch in
                    for _ in 0..<20 {
                        n += 1
                        let id = "view-\(n)"
                        let view = VideoWatched(
                            userId: viewers[n % viewers.count], videoId: "v-\(n % 7)", watchedAtMs: Int64(n))
                        let payload = try JSONEncoder().encode(view)
                        batch.addTask {
                            _ = try await publisher.publish(
                                topic: "video.watched", payload: Array(payload), eventID: Array(id.utf8))
                            acked.withLock { $0.append((id, .now)) }
                        }
                    }
                    try await batch.waitForAll()
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        let load = Task {
            do { try await streamViews() } catch is CancellationError {} catch { loadFailure.withLock { $0 = error } }
        }
        // Not a rate test: 60 s, as the suite's first seconds can hold this process's
        // tasks for long (docs/performance.md, "The test suite starves itself").
        func viewsAcked(atLeast count: Int) throws -> Bool {
            if let failure = loadFailure.withLock({ $0 }) { throw failure }
            return acked.withLock { $0.count } >= count
        }
        try await eventually("views flow", timeout: .seconds(60)) { try viewsAcked(atLeast: 300) }

        let out = dir.url.appendingPathComponent("backup").path
        let began = ContinuousClock.now
        let backup = try MetroProcess(
            ["backup", "--data-dir", data, "--out", out], environment: ["METRO_FAULT_BACKUP_PAUSE_MS": "600"])
        #expect(await backup.waitForExit(timeout: .seconds(60)) == 0, "\(backup.stderrText)")
        let ackedBefore = Set(acked.withLock { $0.filter { $0.at < began }.map(\.id) })
        try await eventually("views flow after the backup", timeout: .seconds(60)) {
            try viewsAcked(atLeast: ackedBefore.count + 300)
        }
        load.cancel()
        _ = await load.result
        await publisher.close()
        system.kill(SIGTERM)
        #expect(await system.waitForExit(timeout: .seconds(60)) == 0)

        let report = backup.stdoutLines.joined(separator: "\n")
        #expect(report.contains("database  profiles:") && report.contains("while the system ran"), "\(report)")
        #expect(report.contains("cp -a \(out) \(data)"), "\(report)")
        let manifest = try BackupManifestFile.read(out)
        #expect(manifest["systemWasWriting"] as? Bool == true)

        // The restored system, on a copy of the backup, with ports of its own.
        let (restored, restoredData, _, restoredDir) = try up.startUpProcess(
            metrics: "", services: Self.profilesOnly,
            prepare: { target in
                try FileManager.default.copyItem(atPath: out, toPath: target)
            })
        _ = restoredDir
        try await waitFor("the restored system is ready", timeout: .seconds(60)) { up.readyLines(restored).count >= 1 }
        let consume = try #require(try readyFields(restored)["consume"])
        #expect(
            restored.stderrText.contains("journal recovered"), "the broker recovered the copied journal")
        try await eventually("the profiles group caught up", timeout: .seconds(60)) {
            guard let group = try await stats(consume).groups["profiles"] else { return false }
            return group.lag == 0 && group.pending == 0
        }
        let journal = try await MetroTestKit.replay(
            on: consume,
            .init(id: Array("backup-test".utf8), start: .seq(0), credit: 0, prefixes: [Array("video.watched".utf8)]),
            window: 1000, timeout: .seconds(60)
        ).events.map { String(decoding: $0.eventID, as: UTF8.self) }
        let deadLettered = try await stats(consume).groups["profiles"]?.deadLettered
        restored.kill(SIGTERM)
        #expect(await restored.waitForExit(timeout: .seconds(60)) == 0)

        // verify: the backup as it was taken; the restored folder (a copy of it, used
        // as a data folder since) says it changed; a damaged journal copy is named.
        let verified = try MetroProcess(["backup", "verify", out])
        #expect(await verified.waitForExit() == 0, "\(verified.stdoutLines)")
        #expect(
            verified.stdoutLines.contains { $0.hasPrefix("  database  profiles: passes integrity_check, as copied") })
        #expect(
            verified.stdoutLines.contains { $0.hasPrefix("  journal   1 segment, ") && $0.hasSuffix(", as copied") })
        let used = try MetroProcess(["backup", "verify", restoredData])
        #expect(await used.waitForExit() == 1)
        #expect(
            used.stdoutLines.contains {
                $0.contains("changed since the backup") && $0.contains("used as a data folder?")
            },
            "\(used.stdoutLines)")
        let damaged = dir.path + "/damaged"
        try FileManager.default.copyItem(atPath: out, toPath: damaged)
        let segment = damaged + "/broker/00000000000000000001.seg"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: segment)))
        bytes[bytes.count / 2] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: segment))
        let rotten = try MetroProcess(["backup", "verify", damaged])
        #expect(await rotten.waitForExit() == 1)
        #expect(rotten.stdoutLines.contains { $0.contains("the journal holds") && $0.contains("the backup had") })

        let inJournal = Set(journal)
        #expect(journal.count == inJournal.count, "no event twice in the journal")
        let lost = ackedBefore.subtracting(inJournal)
        #expect(lost.count == 0, "acknowledged before the backup began, missing from it: \(lost.sorted().prefix(5))")
        #expect(inJournal.count > ackedBefore.count, "the backup also holds views of its own window")

        let database = try DatabaseQueue(path: "\(restoredData)/profiles/profiles.sqlite")
        let history = try await database.read { db in try String.fetchAll(db, sql: "SELECT event_id FROM watch_history")
        }
        try database.close()
        let handled = Set(history)
        let unhandled = inJournal.subtracting(handled)
        let withoutEvent = handled.subtracting(inJournal)
        #expect(
            unhandled.count == 0,
            "\(unhandled.count) views of the journal never reached the history: \(unhandled.sorted().prefix(5))")
        #expect(withoutEvent.count == 0, "\(withoutEvent.count) history entries whose event the journal lacks")
        #expect(deadLettered == 0)
    }

    @Test func refusesAFolderThatIsNotADataFolderOrABackupInsideIt() async throws {
        let dir = try TemporaryDirectory()
        let notData = try MetroProcess(["backup", "--data-dir", dir.path, "--out", dir.path + "/b"])
        #expect(await notData.waitForExit() == 2)
        #expect(notData.stderrText.contains("is not a Metro data folder (no broker/ in it)"), "\(notData.stderrText)")

        try FileManager.default.createDirectory(atPath: dir.path + "/data/broker", withIntermediateDirectories: true)
        let inside = try MetroProcess(["backup", "--data-dir", dir.path + "/data", "--out", dir.path + "/data/b"])
        #expect(await inside.waitForExit() == 2)
        #expect(inside.stderrText.contains("is inside the data folder"), "\(inside.stderrText)")

        try FileManager.default.createDirectory(atPath: dir.path + "/full", withIntermediateDirectories: true)
        try "x".write(toFile: dir.path + "/full/x", atomically: true, encoding: .utf8)
        let full = try MetroProcess(["backup", "--data-dir", dir.path + "/data", "--out", dir.path + "/full"])
        #expect(await full.waitForExit() == 2)
        #expect(full.stderrText.contains("is not empty"), "\(full.stderrText)")

        // A file where the folder should be: refused, and never called a backup to remove.
        let file = try MetroProcess(["backup", "--data-dir", dir.path + "/data", "--out", dir.path + "/full/x"])
        #expect(await file.waitForExit() == 2)
        #expect(file.stderrText.contains("is a file, not a folder"), "\(file.stderrText)")
        // A folder that cannot be made: mkdir's words, and nothing to remove.
        let unmade = try MetroProcess(["backup", "--data-dir", dir.path + "/data", "--out", "/proc/metro-x/b"])
        #expect(await unmade.waitForExit() == 1)
        #expect(
            unmade.stderrText.contains("cannot create /proc/metro-x: No such file or directory"), "\(unmade.stderrText)"
        )
        #expect(!unmade.stderrText.contains("remove it"), "\(unmade.stderrText)")
    }
}

extension BackupTests {
    /// A stopped system's folder: a profiles database, the broker's files, a
    /// secret key (mode 0600) and something that is not Metro's.
    func stoppedDataFolder(_ dir: TemporaryDirectory) throws -> String {
        let data = dir.path + "/data"
        for folder in ["broker", "profiles", "keys", "notes"] {
            try FileManager.default.createDirectory(atPath: "\(data)/\(folder)", withIntermediateDirectories: true)
        }
        try Data([1, 2, 3, 4]).write(to: URL(fileURLWithPath: data + "/broker/groups.state"))
        let database = try DatabaseQueue(path: data + "/profiles/profiles.sqlite")
        try database.write { db in
            try db.execute(sql: "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2);")
        }
        try database.close()
        // One blob, named by its SHA-256 as the video service's store names them.
        let blob = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"  // "hello"
        try FileManager.default.createDirectory(atPath: data + "/video/blobs/2c", withIntermediateDirectories: true)
        try "hello".write(toFile: data + "/video/blobs/2c/" + blob, atomically: true, encoding: .utf8)
        // A service of one's own on the runtime's layout, with a file beside its database.
        try FileManager.default.createDirectory(atPath: data + "/bookmarks/exports", withIntermediateDirectories: true)
        let bookmarks = try DatabaseQueue(path: data + "/bookmarks/bookmarks.sqlite")
        try bookmarks.write { db in try db.execute(sql: "CREATE TABLE b (url TEXT); INSERT INTO b VALUES ('x');") }
        try bookmarks.close()
        try "secret".write(toFile: data + "/keys/cli.key", atomically: true, encoding: .utf8)
        chmod(data + "/keys/cli.key", 0o600)
        return data
    }

    /// A stopped system is copied whole: the report says nothing wrote meanwhile,
    /// the secret key keeps its mode, what is not Metro's is named and left.
    @Test func aStoppedFolderIsCopiedWithItsKeysModes() async throws {
        let dir = try TemporaryDirectory()
        let data = try stoppedDataFolder(dir)
        let out = dir.path + "/backup"
        let backup = try MetroProcess(["backup", "--data-dir", data, "--out", out])
        #expect(await backup.waitForExit() == 0, "\(backup.stderrText)")
        let report = backup.stdoutLines.joined(separator: "\n")
        #expect(report.contains("The broker wrote nothing meanwhile"), "\(report)")
        #expect(report.contains("skipped   bookmarks/exports, notes (not Metro's data)"), "\(report)")
        #expect(report.contains("database  bookmarks: "), "a service of one's own is copied too: \(report)")
        let copiedBookmarks = try DatabaseQueue(path: out + "/bookmarks/bookmarks.sqlite")
        #expect(try await copiedBookmarks.read { db in try String.fetchOne(db, sql: "SELECT url FROM b") } == "x")
        try copiedBookmarks.close()
        #expect(report.contains("keys      1 files") || report.contains("keys      1 file"), "\(report)")
        func mode(_ path: String) -> Int? {
            try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        }
        #expect(mode(out + "/keys/cli.key") == 0o600)
        #expect(mode(out) == 0o700, "the backup holds keys: 0700")
        let copy = try DatabaseQueue(path: out + "/profiles/profiles.sqlite")
        #expect(try await copy.read { db in try Int.fetchOne(db, sql: "SELECT sum(x) FROM t") } == 3)
        try copy.close()
        #expect(!FileManager.default.fileExists(atPath: out + "/notes"))
        #expect(try BackupManifestFile.read(out)["systemWasWriting"] as? Bool == false)

        // verify: whole, then with a blob's bytes changed (bit rot).
        let verified = try MetroProcess(["backup", "verify", out])
        #expect(await verified.waitForExit() == 0, "\(verified.stdoutLines)")
        #expect(
            verified.stdoutLines.contains("  blobs     1 files, each matching its SHA-256"), "\(verified.stdoutLines)")
        #expect(verified.stdoutLines.contains("  keys      1 files"))
        try "hellO".write(
            toFile: out + "/video/blobs/2c/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            atomically: true, encoding: .utf8)
        let rotten = try MetroProcess(["backup", "verify", out])
        #expect(await rotten.waitForExit() == 1)
        #expect(
            rotten.stdoutLines.contains { $0.contains("1 blob whose bytes no longer match their name") },
            "\(rotten.stdoutLines)")
        let notABackup = try MetroProcess(["backup", "verify", data])
        #expect(await notABackup.waitForExit() == 1)
        #expect(notABackup.stdoutLines.contains { $0.contains("no readable metro-backup.json") })

        // --json prints the manifest the folder holds.
        let again = try MetroProcess(["backup", "--data-dir", data, "--out", dir.path + "/backup-2", "--json"])
        #expect(await again.waitForExit() == 0, "\(again.stderrText)")
        let printed = try #require(
            try JSONSerialization.jsonObject(with: Data(again.stdoutLines.joined().utf8)) as? [String: Any])
        let written = try BackupManifestFile.read(dir.path + "/backup-2")
        #expect(printed["format"] as? Int == 1 && written["format"] as? Int == 1)
        let databases = try #require(printed["databases"] as? [[String: Any]])
        #expect(databases.map { $0["service"] as? String } == ["profiles", "bookmarks"])
        #expect(
            printed["keyFiles"] as? Int == 1 && printed["notCopied"] as? [String] == ["bookmarks/exports", "notes"])
    }

    /// A backup disk that fills up or fails its syncs: exit 1, the error, and no
    /// manifest, so the folder is not taken for a whole backup.
    @Test func aFullOrFailingBackupDiskFailsTheBackupAndSaysSo() async throws {
        let dir = try TemporaryDirectory()
        let data = try stoppedDataFolder(dir)
        for (n, fault) in ["full", "sync"].enumerated() {
            let out = dir.path + "/backup-target-\(n)"
            let disk = try FaultInjection(pathFilter: "/backup-target-\(n)/")
            if fault == "full" { disk.fillDisk(true) } else { disk.failSyncs(true) }
            let backup = try MetroProcess(
                ["backup", "--data-dir", data, "--out", out], environment: try disk.environment)
            #expect(await backup.waitForExit() == 1, "\(fault): \(backup.stderrText)")
            let error = fault == "full" ? "No space left on device" : "Input/output error"
            #expect(backup.stderrText.contains("Error: the backup failed"), "\(fault): \(backup.stderrText)")
            #expect(backup.stderrText.contains(error), "\(fault): \(backup.stderrText)")
            #expect(backup.stderrText.contains("is not a whole backup (no metro-backup.json)"))
            #expect(!FileManager.default.fileExists(atPath: out + "/metro-backup.json"))
        }
    }

    /// `--into DIR --keep N` (the backup timer's command): each run a folder named
    /// for its UTC start, the oldest whole ones removed once more than N are
    /// whole; a folder that is not whole, and anything else in DIR, stays; a run
    /// that fails removes its own folder and no older backup.
    @Test func backupsIntoAFolderKeepTheNewestWholeOnes() async throws {
        let dir = try TemporaryDirectory()
        let data = try stoppedDataFolder(dir)
        let into = dir.path + "/backups"
        try FileManager.default.createDirectory(
            atPath: into + "/metro-backup-20200101T000000Z", withIntermediateDirectories: true)  // a dead run's
        try FileManager.default.createDirectory(atPath: into + "/mine", withIntermediateDirectories: true)
        var made: [String] = []
        for _ in 0..<3 {
            let backup = try MetroProcess(["backup", "--data-dir", data, "--into", into, "--keep", "2"])
            #expect(await backup.waitForExit() == 0, "\(backup.stderrText)")
            let name = try #require(
                backup.stdoutLines.first { $0.contains(" holds ") }?.components(separatedBy: "newest ").last)
            #expect(name.hasPrefix("metro-backup-") && name > "metro-backup-20200101T000000Z", "\(name)")
            made.append(name)
            #expect(
                backup.stdoutLines.contains {
                    $0.hasPrefix("Not whole (") && $0.contains("metro-backup-20200101T000000Z: remove by hand")
                }, "\(backup.stdoutLines)")
        }
        #expect(Set(made).count == 3 && made == made.sorted(), "names sort as the runs did: \(made)")
        var left = try FileManager.default.contentsOfDirectory(atPath: into).sorted()
        #expect(left == ["metro-backup-20200101T000000Z"] + made.suffix(2) + ["mine"], "\(left)")
        for name in made.suffix(2) {
            let verify = try MetroProcess(["backup", "verify", into + "/" + name])
            #expect(await verify.waitForExit() == 0, "\(verify.stdoutLines)")
        }

        // A run whose disk fails: its own folder goes, the two whole ones stay.
        let disk = try FaultInjection(pathFilter: into + "/metro-backup-")
        disk.fillDisk(true)
        let failing = try MetroProcess(
            ["backup", "--data-dir", data, "--into", into, "--keep", "1"], environment: try disk.environment)
        #expect(await failing.waitForExit() == 1)
        #expect(
            failing.stderrText.contains("is removed; the older backups are kept")
                && failing.stderrText.contains("No space left on device"), "\(failing.stderrText)")
        left = try FileManager.default.contentsOfDirectory(atPath: into).sorted()
        #expect(left == ["metro-backup-20200101T000000Z"] + made.suffix(2) + ["mine"], "\(left)")

        for arguments in [["--keep", "2", "--out", dir.path + "/x"], [], ["--into", into, "--keep", "0"]] {
            let refused = try MetroProcess(["backup", "--data-dir", data] + arguments)
            #expect(await refused.waitForExit() == 64, "\(arguments): \(refused.stderrText)")
        }
    }
}

/// `metro-backup.json` as the test reads it (keys of protocol-free JSON).
enum BackupManifestFile {
    static func read(_ folder: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/metro-backup.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}
