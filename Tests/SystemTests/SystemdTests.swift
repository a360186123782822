import Foundation
import MetroTestKit
import Testing
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// Metro under systemd (`deploy/systemd/metro.service`, docs/operations.md,
/// "Running under systemd"). This machine has no systemd running, so the tests
/// play its part where it meets Metro: the notify socket a `Type=notify` unit
/// gets (`NotifySocket`), the watchdog's variables, SIGHUP for `systemctl
/// reload` and SIGTERM for `stop`; and `systemd-analyze verify` reads the unit
/// files as systemd would load them.
@Suite struct SystemdTests {
    let up = UpTests()

    /// The unit's main use: `systemctl start` returns once the system answers,
    /// `status` follows its children, `reload` never kills it, the watchdog is
    /// fed, `stop` is announced; the children never speak to systemd themselves.
    @Test func metroUpTellsTheServiceManagerWhatItDoes() async throws {
        let socketFolder = try TemporaryDirectory()
        let notify = try NotifySocket(in: socketFolder.path)
        let (system, data, _, dir) = try await up.startUp(
            services: BackupTests.profilesOnly, timeout: .seconds(60),
            environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000"])
        _ = dir
        #expect(await notify.wait(for: "READY=1"))
        let before = notify.messages.value
        #expect(
            before.first == "STATUS=starting broker, registry, profiles-1",
            "the first message says what starts: \(before)")
        let ready = try #require(notify.received("READY=1").first)
        #expect(ready.contains("STATUS=ready in ") && ready.contains("services profiles ×1"), "\(ready)")
        #expect(up.readyLines(system).count == 1, "READY=1 comes after the ready line")
        // Fed every 100 ms (half of WATCHDOG_USEC) while metro up runs.
        #expect(await notify.messages.wait(timeout: .seconds(30)) { $0.filter { $0 == "WATCHDOG=1" }.count >= 3 })

        // systemd's variables are metro up's: no child inherits them.
        let brokers = up.pids(matching: "broker --data-dir \(data)/broker")
        #expect(brokers.count == 1)
        let environ = try #require(FileManager.default.contents(atPath: "/proc/\(brokers[0])/environ"))
        let names = environ.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        #expect(!names.contains { $0.hasPrefix("NOTIFY_SOCKET=") || $0.hasPrefix("WATCHDOG_") }, "\(names)")

        // `systemctl reload` without --secure: nothing to reload, and the system runs on.
        system.kill(SIGHUP)
        #expect(await notify.wait(for: "RELOADING=1"))
        #expect(await notify.messages.wait(timeout: .seconds(30)) { $0.filter { $0.hasPrefix("READY=1") }.count == 2 })
        try await waitFor("the reload's log line", timeout: .seconds(30)) {
            system.stderrText.contains("SIGHUP: nothing to reload, the system runs without --secure")
        }
        #expect(system.isRunning)

        // A child killed: `systemctl status` says which and how, then that it is back.
        let workers = up.pids(matching: "--data \(data) --instance profiles-1")
        #expect(workers.count == 1)
        kill(workers[0], SIGKILL)
        #expect(
            await notify.wait(for: "STATUS=2 of 3 processes ready; not ready: profiles-1 (killed by signal 9)"),
            "\(notify.messages.value)")
        #expect(
            await notify.wait(for: "STATUS=3 of 3 processes ready; 1 restart since start"), "\(notify.messages.value)")

        system.kill(SIGTERM)
        #expect(await notify.wait(for: "STOPPING=1"))
        #expect(await system.waitForExit(timeout: .seconds(60)) == 0)
    }

    /// A system that cannot start leaves its reason in `systemctl status`.
    @Test func aSystemThatCannotStartSaysWhyInItsStatus() async throws {
        let socketFolder = try TemporaryDirectory()
        let notify = try NotifySocket(in: socketFolder.path)
        let (system, _, _, dir) = try up.startUpProcess(
            metrics: "", services: BackupTests.profilesOnly, environment: ["NOTIFY_SOCKET": notify.path]
        ) { data in
            let folder = "\(data)/profiles"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: "\(folder)/profiles.sqlite"))
        }
        _ = dir
        #expect(await system.waitForExit(timeout: .seconds(60)) == 1)
        let failed = notify.messages.value.filter { $0.hasPrefix("STATUS=failed: ") }
        #expect(failed.count == 1, "\(notify.messages.value)")
        #expect(
            failed.first?.contains("profiles-1 was never ready: it exited at each of 5 starts in a row") == true
                && failed.first?.contains("file is not a database") == true, "\(failed)")
        #expect(notify.received("READY=1").isEmpty)

        // A port taken before anything starts (UpPreflight): said the same way.
        let holder = try Context(defaultLingerMilliseconds: 0).socket(.rep)
        let taken = try holder.bindResolved("tcp://127.0.0.1:*")
        let port = try #require(taken.split(separator: ":").last)
        let (blocked, _, _, blockedDir) = try up.startUpProcess(
            metrics: "", services: UpTests.noServices + ["--metrics", "127.0.0.1:\(port)"],
            environment: ["NOTIFY_SOCKET": notify.path])
        _ = blockedDir
        #expect(await blocked.waitForExit(timeout: .seconds(30)) != 0)
        let refused = notify.messages.value.filter { $0.hasPrefix("STATUS=failed: ") && $0.contains("is taken") }
        #expect(refused.count == 1 && refused[0].contains("port metro up metrics"), "\(notify.messages.value)")
        holder.close()
    }

    /// Every long-running `metro` server is a `Type=notify` service of its own.
    /// (The registry through `runServices`, as the broker; the gateway with a group of its own.)
    @Test(arguments: [
        (["registry", "--endpoint", "tcp://127.0.0.1:*"], "STATUS=ready endpoint=tcp://127.0.0.1:"),
        (
            ["gateway", "--listen", "127.0.0.1:0", "--registry", "tcp://127.0.0.1:1"],
            "STATUS=ready http=127.0.0.1:"
        ),
    ])
    func aServerStartedAloneIsReadyForSystemdToo(command: [String], status: String) async throws {
        let socketFolder = try TemporaryDirectory()
        let notify = try NotifySocket(in: socketFolder.path)
        let server = try MetroProcess(
            command, environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000"])
        #expect(await notify.wait(for: "READY=1"), "\(server.stderrText)")
        let ready = try #require(notify.received("READY=1").first)
        #expect(ready.contains(status), "\(ready)")
        #expect(await notify.messages.wait(timeout: .seconds(30)) { $0.filter { $0 == "WATCHDOG=1" }.count >= 2 })
        server.kill(SIGTERM)
        #expect(await notify.wait(for: "STOPPING=1"))
        #expect(await server.waitForExit(timeout: .seconds(30)) == 0)
    }

    /// The unit files as systemd loads them (`systemd-analyze verify`, with this
    /// build's binary in place of /usr/local/bin/metro); metro.service's own
    /// ExecStart line, run with the variables systemd gives it, is ready, and
    /// metro-backup.service's makes a whole backup of it while it runs.
    @Test func theUnitFilesLoadAndTheirCommandStartsASystem() async throws {
        guard let analyze = Self.systemdAnalyze else {
            #expect(
                ProcessInfo.processInfo.environment["METRO_REQUIRE_SYSTEMD_ANALYZE"] != "1",
                "systemd-analyze is missing (apt-get install systemd)")
            return
        }
        let dir = try TemporaryDirectory()
        let units = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("deploy/systemd")
        let names = ["metro.service", "metro-backup.service", "metro-backup.timer"]
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: units.path).sorted() == names.sorted(),
            "every unit in deploy/systemd is verified here")
        var text: [String: String] = [:]
        for name in names {
            text[name] = try String(contentsOf: units.appendingPathComponent(name), encoding: .utf8)
            try text[name]!.replacingOccurrences(of: "/usr/local/bin/metro", with: MetroProcess.binary.path)
                .write(toFile: dir.path + "/" + name, atomically: true, encoding: .utf8)
        }
        let verify = try ChildProcess(URL(fileURLWithPath: analyze), ["verify"] + names.map { dir.path + "/" + $0 })
        #expect(await verify.waitForExit(timeout: .seconds(60)) == 0)
        #expect(verify.stderrText.isEmpty && verify.stdoutText.isEmpty, "\(verify.stderrText)\(verify.stdoutText)")
        func execStart(_ unit: String) throws -> [String] {
            let line = try #require(
                text[unit]?.split(separator: "\n").first { $0.hasPrefix("ExecStart=") }.map { String($0.dropFirst(10)) }
            )
            return line.split(separator: " ").map(String.init)
        }

        // ExecStart, with $METRO_UP_ARGS holding what /etc/default/metro would: this test's ports.
        var words = try execStart("metro.service")
        #expect(words.first == "/usr/local/bin/metro" && words.last == "$METRO_UP_ARGS", "\(words)")
        let data = dir.path + "/var-lib-metro"
        let e = try TestPorts.freeEndpoints(6)
        let config = try writeBrokerConfig(in: dir.path, e, metrics: "")
        words = words.dropFirst().dropLast().map { $0.replacingOccurrences(of: "/var/lib/metro", with: data) }
        let notify = try NotifySocket(in: dir.path)
        let system = try MetroProcess(
            words + ["--config", config, "--registry", e[4], "--gateway", ""] + UpTests.noServices,
            environment: ["NOTIFY_SOCKET": notify.path])
        #expect(await notify.wait(for: "READY=1", timeout: .seconds(60)), "\(system.stderrText)")
        #expect(FileManager.default.fileExists(atPath: data + "/broker"), "the journal is under the state folder")

        // The timer's backup, of the running system, into the backups folder.
        let backupWords = try execStart("metro-backup.service")
        #expect(backupWords.first == "/usr/local/bin/metro", "\(backupWords)")
        let backups = dir.path + "/var-backups-metro"
        let backup = try MetroProcess(
            backupWords.dropFirst().map {
                $0.replacingOccurrences(of: "/var/lib/metro", with: data)
                    .replacingOccurrences(of: "/var/backups/metro", with: backups)
            })
        #expect(await backup.waitForExit(timeout: .seconds(60)) == 0, "\(backup.stderrText)")
        let made = try FileManager.default.contentsOfDirectory(atPath: backups)
        #expect(made.count == 1 && made[0].hasPrefix("metro-backup-"), "\(made)")
        #expect(FileManager.default.fileExists(atPath: "\(backups)/\(made[0])/metro-backup.json"))
        system.kill(SIGTERM)
        #expect(await system.waitForExit(timeout: .seconds(60)) == 0)
    }

    static var systemdAnalyze: String? {
        ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
