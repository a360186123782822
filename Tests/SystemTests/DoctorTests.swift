import Foundation
import GRDB
import MetroTestKit
import Testing
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct CLITests {
    /// `metro broker --help` shows the flags that run a broker (they used to be
    /// only under `metro broker run --help`), and `stats` still takes `--consume`.
    @Test func brokerHelpShowsTheEndpointFlags() async throws {
        let p = try MetroProcess(["broker", "--help"])
        #expect(await p.waitForExit() == 0)
        let help = p.stdoutLines.joined(separator: "\n")
        for flag in ["--ingest", "--publish", "--events", "--consume", "--metrics", "--data-dir", "--fsync"] {
            #expect(help.contains(flag), "\(flag) in:\n\(help)")
        }
        #expect(help.contains("stats"))
    }

    /// `metro --help` starts with the three uses (start everything, publish test
    /// events, a soak with faults) as commands, and groups the subcommands: the
    /// main ones first, the processes `metro up` runs apart.
    @Test func helpLeadsWithTheThreeUsesAndGroupsTheSubcommands() async throws {
        let p = try MetroProcess(["--help"])
        #expect(await p.waitForExit() == 0)
        try await waitFor("stdout") { p.stdoutLines.contains { $0.contains("SECURITY SUBCOMMANDS") } }
        let help = p.stdoutLines.joined(separator: "\n")
        let uses = ["metro up --data-dir data", "metro publish video.watched --example", "metro soak --rate"]
        let positions = uses.compactMap { help.range(of: $0)?.lowerBound }
        #expect(positions.count == 3 && positions == positions.sorted(), "\(help)")
        let main = try #require(help.range(of: "MAIN SUBCOMMANDS:"))
        let process = try #require(help.range(of: "PROCESS SUBCOMMANDS:"))
        #expect(main.lowerBound < process.lowerBound)
        for command in ["up", "publish", "soak", "doctor"] {
            let line = try #require(help.range(of: "\n  \(command) "), "\(command)")
            #expect(line.lowerBound > main.lowerBound && line.lowerBound < process.lowerBound, "\(command)")
        }
        for command in [
            "tail", "top", "services", "consume", "dlq", "broker", "registry", "worker", "gateway",
            "announce", "keys", "gateway-auth",
        ] {
            #expect(help.contains("\n  \(command) "), "\(command) in\n\(help)")
        }
    }

    @Test func versionPrintsTheVersion() async throws {
        let p = try MetroProcess(["--version"])
        #expect(await p.waitForExit() == 0)
        try await waitFor("stdout") { !p.stdoutLines.isEmpty }
        #expect(p.stdoutLines.first?.hasPrefix("0.") == true)
    }
}

/// `metro doctor` against real ports and folders.
@Suite struct DoctorTests {
    /// Writes a broker configuration with `ingest` and three free ports (`TestPorts`,
    /// not port-0 binds released again: another test's process can be handed such a
    /// port before the doctor checks it).
    func configuration(in dir: TemporaryDirectory, ingest: String, dataDir: String) throws -> String {
        let path = dir.url.appendingPathComponent("broker.yaml").path
        let free = try TestPorts.freeEndpoints(4)
        let yaml = """
            endpoints:
              ingest: \(ingest)
              publish: \(free[0])
              events: \(free[1])
              consume: \(free[2])
              metrics: \(free[3].dropFirst("tcp://".count))
            dataDir: \(dataDir)
            """
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func runDoctor(_ args: [String]) async throws -> (Int32?, [String: (Bool, String)]) {
        // The registry's default port may be taken by parallel tests: a free one unless given.
        let registry = args.contains("--registry") ? [] : ["--registry", try TestPorts.freeEndpoints(1)[0]]
        let p = try MetroProcess(["doctor", "--json"] + registry + args)
        let status = try await p.finished()
        guard p.stdoutLines.last == "]" else {
            throw WaitError.unexpected(
                "doctor's JSON (status \(status)):\n\(p.stdoutLines.joined(separator: "\n"))\n\(p.stderrText)")
        }
        let data = Data(p.stdoutLines.joined(separator: "\n").utf8)
        let checks = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        var byName: [String: (Bool, String)] = [:]
        for c in checks {
            byName[c["name"] as! String] = (c["ok"] as! Bool, c["detail"] as! String)
        }
        return (status, byName)
    }

    @Test func passesOnFreePortsAndAWritableFolder() async throws {
        let dir = try TemporaryDirectory()
        let ingest = try TestPorts.freeEndpoints(1)[0]
        let config = try configuration(in: dir, ingest: ingest, dataDir: dir.path + "/data")
        let (status, checks) = try await Self.runDoctor(["--config", config])
        #expect(status == 0, "failed checks: \(checks.filter { !$0.value.0 })")
        #expect(checks["libzmq"]?.0 == true)
        #expect(checks["port ingest"]?.0 == true)
        #expect(checks["data folder"]?.0 == true)
    }

    @Test func reportsAPortInUseAndAnUnwritableFolder() async throws {
        let dir = try TemporaryDirectory()
        let ctx = try Context(defaultLingerMilliseconds: 0)
        let holder = try ctx.socket(.rep)
        let ingest = try holder.bindResolved("tcp://127.0.0.1:*")
        // A folder below a regular file cannot be created, even by root.
        let blocker = dir.url.appendingPathComponent("file").path
        try "x".write(toFile: blocker, atomically: true, encoding: .utf8)
        let config = try configuration(in: dir, ingest: ingest, dataDir: blocker + "/data")
        let (status, checks) = try await Self.runDoctor(["--config", config])
        #expect(status == 1)
        let port = try #require(checks["port ingest"])
        #expect(port.0 == false)
        #expect(port.1.contains("taken by something else"))
        #expect(port.1.contains("endpoints.ingest"))
        #expect(checks["port publish"]?.0 == true)
        #expect(checks["data folder"]?.0 == false)
    }

    /// Each service database found is checked: a healthy one says what waits in
    /// its outbox, one that is not SQLite and one with a corrupt page fail with
    /// what to do (their workers would fail at every start).
    @Test func reportsEachServiceDatabaseAndFailsOnACorruptOne() async throws {
        let dir = try TemporaryDirectory()
        let data = dir.path + "/data"
        for service in ["profiles", "video", "recommendations"] {
            try FileManager.default.createDirectory(atPath: "\(data)/\(service)", withIntermediateDirectories: true)
        }
        // recommendations: healthy, with 2 of its 3 outbox rows unsent.
        let healthy = try DatabaseQueue(path: "\(data)/recommendations/recommendations.sqlite")
        try await healthy.write { db in
            try db.execute(sql: "CREATE TABLE metro_outbox (seq INTEGER PRIMARY KEY, sent_at REAL)")
            try db.execute(sql: "INSERT INTO metro_outbox (sent_at) VALUES (NULL), (NULL), (1.0)")
        }
        try healthy.close()
        // video: not SQLite at all.
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: "\(data)/video/video.sqlite"))
        // profiles: a real database with one of its table's pages overwritten.
        let profilesPath = "\(data)/profiles/profiles.sqlite"
        let damaged = try DatabaseQueue(path: profilesPath)
        try await damaged.write { db in
            try db.execute(sql: "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
            for i in 0..<500 {
                try db.execute(
                    sql: "INSERT INTO users (name) VALUES (?)",
                    arguments: ["user \(i) " + String(repeating: "x", count: 200)])
            }
        }
        try damaged.close()
        let file = try #require(FileHandle(forWritingAtPath: profilesPath))
        try file.seek(toOffset: 4 * 4096)
        try file.write(contentsOf: Data(repeating: 0xFF, count: 4096))
        try file.close()

        let config = try configuration(in: dir, ingest: try TestPorts.freeEndpoints(1)[0], dataDir: data)
        let (status, checks) = try await Self.runDoctor(["--config", config, "--gateway", ""])
        #expect(status == 1)
        let recommendations = try #require(checks["database recommendations"])
        #expect(recommendations.0, "\(recommendations.1)")
        #expect(
            recommendations.1.contains("passes SQLite's quick_check; 2 events wait in its outbox"),
            "\(recommendations.1)")
        let video = try #require(checks["database video"])
        #expect(!video.0 && video.1.contains("is not a SQLite database"), "\(video.1)")
        #expect(video.1.contains("the video workers will not start on it"))
        let profiles = try #require(checks["database profiles"])
        #expect(!profiles.0, "\(profiles.1)")
        #expect(profiles.1.contains("profiles.sqlite"), "\(profiles.1)")
        #expect(profiles.1.contains("profiles.sqlite is damaged"), "\(profiles.1)")
        #expect(profiles.1.contains("restore the data folder from a metro backup"), "\(profiles.1)")
        // An empty data folder has no database to check.
        let (_, empty) = try await Self.runDoctor(["--data-dir", dir.path + "/fresh", "--gateway", ""])
        #expect(!empty.keys.contains { $0.hasPrefix("database") })
    }

    /// The disk space check reports the data folder's free space and inodes, and warns
    /// (without failing) under 1 GiB: on a real 4 MiB tmpfs (root only).
    @Test(.enabled(if: TinyFileSystem.canMount)) func diskSpaceWarnsOnASmallFileSystem() async throws {
        let dir = try TemporaryDirectory()
        let tiny = try TinyFileSystem(at: dir.path + "/mnt", megabytes: 4)
        defer { tiny.unmount() }
        let p = try MetroProcess(["doctor", "--json", "--data-dir", tiny.path + "/data"])
        _ = await p.waitForExit()
        try await waitFor("doctor output") { p.stdoutLines.last == "]" }
        let data = Data(p.stdoutLines.joined(separator: "\n").utf8)
        let checks = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        let disk = try #require(checks.first { $0["name"] as? String == "disk space" })
        #expect(disk["ok"] as? Bool == true && disk["warning"] as? Bool == true)
        let detail = disk["detail"] as? String ?? ""
        #expect(detail.contains("GiB free of 0.0 GiB") && detail.contains("a full disk comes soon"), "\(detail)")
        #expect(checks.first { $0["name"] as? String == "data folder" }?["ok"] as? Bool == true)
    }

    /// The vCPU idle check reads the same sysfs files as this test and warns (without
    /// failing) exactly when a haltpoll guest halts idle vCPUs at once.
    @Test func vcpuIdleWarnsOnlyWhenIdleVCPUsHaltAtOnce() async throws {
        let dir = try TemporaryDirectory()
        // The default ports may be taken by parallel tests: only this check matters here.
        let p = try MetroProcess(["doctor", "--json", "--data-dir", dir.path + "/data"])
        _ = await p.waitForExit()
        try await waitFor("doctor output") { p.stdoutLines.last == "]" }
        let data = Data(p.stdoutLines.joined(separator: "\n").utf8)
        let checks = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        let idle = try #require(checks.first { $0["name"] as? String == "vcpu idle" })
        func read(_ path: String) -> String? {
            (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let driver = read("/sys/devices/system/cpu/cpuidle/current_driver")
        let pollNs = read("/sys/module/haltpoll/parameters/guest_halt_poll_ns").flatMap { Int($0) }
        #expect(idle["ok"] as? Bool == true)
        #expect(idle["warning"] as? Bool == (driver == "haltpoll" && pollNs == 0))
        if driver == "haltpoll", pollNs == 0 {
            #expect((idle["detail"] as? String)?.contains("guest_halt_poll_ns") == true)
        }
    }

    /// The open-files check reports the limits the doctor runs under, and warns when
    /// the hard limit (what the broker raises its soft limit to) is under 4,096.
    @Test func openFilesReportsTheLimitsAndWarnsWhenTheHardOneIsLow() async throws {
        let dir = try TemporaryDirectory()
        func check(_ shell: String) async throws -> [String: Any] {
            let p = try MetroProcess(["doctor", "--json", "--data-dir", dir.path + "/data"], shell: shell)
            _ = await p.waitForExit()
            try await waitFor("doctor output") { p.stdoutLines.last == "]" }
            let data = Data(p.stdoutLines.joined(separator: "\n").utf8)
            let checks = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
            return try #require(checks.first { $0["name"] as? String == "open files" })
        }
        let low = try await check("ulimit -S -n 64; ulimit -H -n 1000")
        #expect(low["ok"] as? Bool == true && low["warning"] as? Bool == true)
        #expect((low["detail"] as? String)?.contains("soft 64, hard 1000") == true, "\(low)")
        var mine = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &mine)
        if mine.rlim_max >= 4096 {
            let fine = try await check("ulimit -S -n 64; ulimit -H -n 4096")
            #expect(fine["warning"] as? Bool == false && (fine["detail"] as? String)?.contains("to 4096") == true)
        }
    }

    /// The steal check reports the since-boot share of wanted CPU time that
    /// /proc/stat shows as stolen, and warns from 1% up. The share moves while
    /// the doctor runs, so it must lie between this test's readings before and after.
    @Test func cpuStealReportsTheSinceBootShareOfStolenTime() async throws {
        func stolenPercent() throws -> Double {
            let line = try String(contentsOfFile: "/proc/stat", encoding: .utf8).split(separator: "\n")[0]
            let f = line.split(separator: " ").dropFirst().compactMap { Double($0) }
            return 100 * f[7] / (f[0] + f[1] + f[2] + f[5] + f[6] + f[7])
        }
        let dir = try TemporaryDirectory()
        let before = try stolenPercent()
        let p = try MetroProcess(["doctor", "--json", "--data-dir", dir.path + "/data"])
        _ = await p.waitForExit()
        let after = try stolenPercent()
        try await waitFor("doctor output") { p.stdoutLines.last == "]" }
        let data = Data(p.stdoutLines.joined(separator: "\n").utf8)
        let checks = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        let steal = try #require(checks.first { $0["name"] as? String == "cpu steal" })
        let detail = try #require(steal["detail"] as? String)
        let reported = try #require(Double(detail.prefix { $0 != "%" }))
        #expect(reported >= min(before, after) - 0.05 && reported <= max(before, after) + 0.05, "\(detail)")
        #expect(steal["ok"] as? Bool == true)
        #expect(steal["warning"] as? Bool == (reported >= 1.0))
    }

    /// A secure system's allow-list written by an older `metro up --secure` (the
    /// video identity without `$metro.dead.video-processing`, the gateway's `call`
    /// narrowed to one method) draws a warning naming each missing grant; one that
    /// does not parse fails the doctor. `SecureUpTests` checks a fresh one passes.
    @Test func anAllowListWithoutTheGrantsThisVersionUsesIsReported() async throws {
        let dir = try TemporaryDirectory()
        let config = try configuration(
            in: dir, ingest: try TestPorts.freeEndpoints(1)[0], dataDir: dir.path + "/data")
        let keys = dir.url.appendingPathComponent("keys").path
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
        func key() throws -> String { try CurveKeyPair.generate().publicKey }  // Z85 has no quote or backslash
        let old = """
            identities:
              video:
                publicKey: "\(try key())"
                permissions: {publish: ["video.uploaded", "video.processed", "video.failed"], consume: ["video.uploaded"], register: ["video"], call: []}
              gateway:
                publicKey: "\(try key())"
                permissions: {publish: ["video.watched"], subscribe: ["$registry."], replay: ["$registry."], call: ["profile.get", "video.", "recommendations."]}
              cli:
                publicKey: "\(try key())"
            """
        try old.write(toFile: keys + "/allow-list.yaml", atomically: true, encoding: .utf8)
        let (_, checks) = try await Self.runDoctor(["--config", config, "--keys", keys])
        let check = try #require(checks["allow-list"])
        #expect(check.0 == true, "a warning, not a failure: \(check.1)")
        #expect(check.1.contains("video: consume $metro.dead.video-processing"), "\(check.1)")
        #expect(check.1.contains("gateway: call profile."), "\(check.1)")
        #expect(!check.1.contains("cli"), "cli has every permission: \(check.1)")
        #expect(check.1.contains("kill -HUP"))

        try "identities:\n  video: 7\n".write(toFile: keys + "/allow-list.yaml", atomically: true, encoding: .utf8)
        let (status, broken) = try await Self.runDoctor(["--config", config, "--keys", keys])
        #expect(status == 1 && broken["allow-list"]?.0 == false, "\(broken["allow-list"] ?? (true, ""))")
    }

    @Test func reportsABrokenConfigurationFile() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.url.appendingPathComponent("bad.yaml").path
        try "journal:\n  segmentBytes: lots\n".write(toFile: path, atomically: true, encoding: .utf8)
        let (status, checks) = try await Self.runDoctor(["--config", path])
        #expect(status == 1)
        let c = try #require(checks["configuration"])
        #expect(c.0 == false)
        #expect(c.1.contains("segmentBytes"))
    }
}
