import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// `metro up`: the broker, the registry and the services' workers as supervised children.
@Suite(.serialized) struct UpTests {
    /// Free loopback endpoints for a process that must be told its ports up front.
    func freeEndpoints(_ n: Int) throws -> [String] { try TestPorts.freeEndpoints(n) }

    func readyLines(_ p: MetroProcess) -> [String] { p.stdoutLines.filter { $0.hasPrefix("ready ") } }

    /// The pids of running processes whose command line contains `needle`.
    func pids(matching needle: String) -> [Int32] {
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return procs.compactMap { Int32($0) }.filter { commandLine($0).contains(needle) }
    }

    /// A process's arguments joined by spaces ("" once it is gone).
    func commandLine(_ pid: Int32) -> String {
        guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return "" }
        return String(decoding: raw.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
    }

    /// `metro up` on fixed free ports in a fresh folder, once both children are ready.
    func startUp(
        metrics: String = "", services: [String] = noServices, timeout: Duration = .seconds(30),
        environment: [String: String] = [:]
    ) async throws -> (up: MetroProcess, data: String, registry: String, dir: TemporaryDirectory) {
        let (up, data, registry, dir) = try startUpProcess(
            metrics: metrics, services: services, environment: environment)
        do {
            try await waitFor("metro up ready", timeout: timeout) { readyLines(up).count >= 1 }
        } catch {
            // Once seen in a full CI run and not reproduced alone: keep what `up` said.
            Issue.record("metro up not ready; stdout: \(up.stdoutLines), stderr: \(up.stderrText)")
            throw error
        }
        return (up, data, registry, dir)
    }

    /// The flags that start no service worker (the tests of the broker and registry children).
    static let noServices = ["--profiles", "0", "--video", "0", "--recommendations", "0"]

    /// `metro up` on fixed free ports (metrics on `metrics`) in a fresh folder.
    func startUpProcess(
        metrics: String, services: [String] = noServices, environment: [String: String] = [:],
        prepare: (_ data: String) throws -> Void = { _ in }
    ) throws
        -> (up: MetroProcess, data: String, registry: String, dir: TemporaryDirectory)
    {
        let dir = try TemporaryDirectory()
        let e = try freeEndpoints(6)
        let config = try writeBrokerConfig(in: dir.path, e, metrics: metrics)
        let data = dir.url.appendingPathComponent("data").path
        // No gateway unless the test asks for one (its default port 8080 is shared by every test).
        let gateway = services.contains("--gateway") ? [] : ["--gateway", ""]
        try prepare(data)
        let up = try MetroProcess(
            ["up", "--data-dir", data, "--config", config, "--registry", e[4]] + services + gateway,
            environment: environment)
        return (up, data, e[4], dir)
    }

    /// One labelled ready line for the whole system (operations.md), also after a
    /// child restarts; the children's own lines come out prefixed with their names.
    @Test func printsOneReadyLineWithEveryEndpoint() async throws {
        let (up, data, registry, dir) = try await startUp()
        _ = dir
        let line = try #require(readyLines(up).first)
        let fields = try #require(
            try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: String])
        #expect(fields["registry"] == registry)
        for key in ["ingest", "publish", "events", "consume", "dataDir", "readyMs"] {
            #expect(fields[key] != nil, "\(key) in \(line)")
        }
        let brokers = pids(matching: "broker --data-dir \(data)/broker")
        kill(try #require(brokers.first), SIGKILL)
        do {
            try await waitFor("the broker is ready again", timeout: .seconds(30)) {
                up.stderrText.contains("broker is ready again")
            }
        } catch {
            // Seen once in a CI run: keep what `up` and its children said.
            Issue.record("no restart seen; stdout: \(up.stdoutLines), stderr: \(up.stderrText)")
            throw error
        }
        #expect(readyLines(up).count == 1, "\(up.stdoutLines)")
        #expect(up.stderrText.contains("registry | "), "the registry's log lines carry its name")
        up.kill(SIGTERM)
        #expect(await up.waitForExit(timeout: .seconds(20)) == 0)
    }

    /// A second `metro up` on the ports of a running one says so and starts
    /// nothing (it once started every child, then stopped them all when the
    /// registry could not bind).
    /// `--registry-metrics host:port`: the registry's counters; `--metrics
    /// host:port`: metro up's own, each child's restarts and readiness (for
    /// Prometheus: deploy/prometheus scrapes them as metro-registry and metro-up).
    @Test func servesTheRegistryAndItsOwnMetricsWhenAsked() async throws {
        let address = "127.0.0.1:\(TestPorts.next())"
        let own = "127.0.0.1:\(TestPorts.next())"
        let (up, data, _, dir) = try await startUp(
            services: Self.noServices + ["--registry-metrics", address, "--metrics", own])
        _ = dir
        let scrape = try await HTTPTestClient.send(address, "GET", "/metrics")
        #expect(scrape.status == 200)
        #expect(scrape.text.contains("metro_registry_requests_total"), "\(scrape.text)")
        let before = try await HTTPTestClient.send(own, "GET", "/metrics").text
        #expect(before.contains(#"metro_up_child_ready{child="broker"} 1"#), "\(before)")
        kill(try #require(pids(matching: "broker --data-dir \(data)/broker").first), SIGKILL)
        try await waitFor("the broker restarted", timeout: .seconds(30)) {
            up.stderrText.contains("broker is ready again")
        }
        let after = try await HTTPTestClient.send(own, "GET", "/metrics").text
        #expect(after.contains(#"metro_up_child_restarts_total{child="broker"} 1"#), "\(after)")
        #expect(after.contains(#"metro_up_child_restarts_total{child="registry"} 0"#), "\(after)")
        #expect(after.contains(#"metro_up_child_ready{child="broker"} 1"#), "\(after)")
        up.kill(SIGTERM)
        #expect(await up.waitForExit(timeout: .seconds(20)) == 0)
    }

    @Test func aSecondSystemOnTheSamePortsIsRefusedBeforeAnythingStarts() async throws {
        let (first, _, registry, dir) = try await startUp()
        let config = dir.url.appendingPathComponent("broker.yaml").path
        let second = try MetroProcess(
            [
                "up", "--data-dir", dir.url.appendingPathComponent("data2").path, "--config", config, "--registry",
                registry, "--gateway", "",
            ] + Self.noServices)
        let status = await second.waitForExit(timeout: .seconds(30))
        #expect(status != nil && status != 0)
        #expect(second.stderrText.contains("is in use by a running Metro broker"), "\(second.stderrText)")
        #expect(second.stderrText.contains("is in use by a running Metro registry"), "\(second.stderrText)")
        #expect(second.stderrText.contains("Another Metro system runs on these ports"), "\(second.stderrText)")
        #expect(!second.stderrText.contains("started broker"))
        #expect(first.isRunning)
        first.kill(SIGTERM)
        #expect(await first.waitForExit(timeout: .seconds(20)) == 0)
    }

    /// A data folder that cannot be made: nothing starts (every child once failed
    /// at its start and was restarted for good, with growing backoffs).
    @Test func aDataFolderThatCannotBeMadeStopsUpBeforeAnythingStarts() async throws {
        let up = try MetroProcess(
            ["up", "--data-dir", "/proc/metro-no-such-folder", "--gateway", ""] + Self.noServices)
        let status = await up.waitForExit(timeout: .seconds(30))
        #expect(status != nil && status != 0)
        #expect(
            up.stderrText.contains(
                "the data folder is not usable: cannot create /proc/metro-no-such-folder: No such file or directory"),
            "\(up.stderrText)")
        #expect(!up.stderrText.contains("started broker"))
    }

    /// Run from `PATH` as plain `metro` in another folder (as a user runs it), its
    /// children start: it once looked for `./metro` and started nothing.
    @Test func startsItsChildrenWhenRunFromThePathByName() async throws {
        let dir = try TemporaryDirectory()
        let e = try freeEndpoints(6)
        let config = try writeBrokerConfig(in: dir.path, e, metrics: "")
        let bin = MetroProcess.binary.deletingLastPathComponent().path
        let up = try MetroProcess(
            [
                "up", "--data-dir", dir.url.appendingPathComponent("data").path, "--config", config, "--registry",
                e[4], "--gateway", "",
            ] + Self.noServices,
            shell: "cd '\(dir.path)' && PATH='\(bin)':\"$PATH\" exec metro \"$@\"")
        try await waitFor("metro up ready", timeout: .seconds(30)) { readyLines(up).count >= 1 || !up.isRunning }
        #expect(readyLines(up).count == 1, "stdout: \(up.stdoutLines), stderr: \(up.stderrText)")
        #expect(!up.stderrText.contains("cannot run"), "\(up.stderrText)")
        up.kill(SIGTERM)
        #expect(await up.waitForExit(timeout: .seconds(20)) == 0)
    }

    /// A taken metrics port: `metro up` names it and starts nothing (it once
    /// started the broker, which failed to bind, and restarted it forever).
    @Test func aTakenMetricsPortStopsUpWithTheEndpointNamed() async throws {
        let ctx = try Context(defaultLingerMilliseconds: 0)
        let holder = try ctx.socket(.rep)
        let taken = try holder.bindResolved("tcp://127.0.0.1:*")
        let port = try #require(taken.split(separator: ":").last)
        let (up, data, _, dir) = try startUpProcess(metrics: "127.0.0.1:\(port)")
        _ = dir
        let status = await up.waitForExit(timeout: .seconds(30))
        #expect(status != nil && status != 0, "metro up exits by itself")
        // Checked before anything starts (`UpPreflight`): named with what holds it.
        #expect(
            up.stderrText.contains("port metrics: tcp://127.0.0.1:\(port) is taken by something else (not Metro)"),
            "\(up.stderrText)")
        #expect(!up.stderrText.contains("started broker"), "nothing started")
        #expect(readyLines(up).isEmpty)
        try await waitFor("children gone") { pids(matching: "--data-dir \(data)/broker").isEmpty }
        holder.close()
    }

    /// `--metrics` and `--registry-metrics` on a taken port: refused before
    /// anything starts, each named with the flag that moves it.
    @Test func takenMetricsListenersOfUpAndTheRegistryStopUpBeforeAnythingStarts() async throws {
        let ctx = try Context(defaultLingerMilliseconds: 0)
        let holder = try ctx.socket(.rep)
        let taken = try holder.bindResolved("tcp://127.0.0.1:*")
        let port = try #require(taken.split(separator: ":").last)
        let (up, data, _, dir) = try startUpProcess(
            metrics: "",
            services: Self.noServices + ["--metrics", "127.0.0.1:\(port)", "--registry-metrics", "127.0.0.1:\(port)"])
        _ = dir
        let status = await up.waitForExit(timeout: .seconds(30))
        #expect(status != nil && status != 0, "metro up exits by itself")
        for (name, flag) in [("metro up metrics", "--metrics"), ("registry metrics", "--registry-metrics")] {
            #expect(
                up.stderrText.contains("port \(name): tcp://127.0.0.1:\(port) is taken by something else (not Metro)"),
                "\(up.stderrText)")
            #expect(up.stderrText.contains("or give metro up \(flag) another"), "\(up.stderrText)")
        }
        #expect(!up.stderrText.contains("started broker"), "nothing started")
        try await waitFor("children gone") { pids(matching: "--data-dir \(data)/broker").isEmpty }
        holder.close()
    }

    /// No ffmpeg on PATH: the video worker says what to install and exits 78, and
    /// `metro up` stops with that reason instead of restarting it every few
    /// seconds, never ready (as it did before).
    @Test func aVideoWorkerWithoutFFmpegStopsUpWithWhatToInstall() async throws {
        let bare = try TemporaryDirectory()
        let (up, data, _, dir) = try startUpProcess(
            metrics: "", services: ["--profiles", "0", "--video", "1", "--recommendations", "0"],
            environment: ["PATH": bare.path])
        _ = dir
        let status = await up.waitForExit(timeout: .seconds(30))
        #expect(status != nil && status != 0, "metro up exits by itself")
        #expect(up.stderrText.contains("ffmpeg is not on PATH"), "\(up.stderrText)")
        #expect(up.stderrText.contains("apt-get install ffmpeg"))
        #expect(up.stderrText.contains("video-1 cannot run as configured (exit status 78"))
        #expect(up.stderrText.components(separatedBy: "started video-1").count - 1 == 1, "started once")
        #expect(readyLines(up).isEmpty)
        try await waitFor("children gone") { pids(matching: "--data-dir \(data)/broker").isEmpty }
    }

    /// A child that fails at every start (here a profiles database that is not
    /// SQLite) stops `metro up` after 5 tries with that child's own last line,
    /// instead of restarting it every 5 s for good while the system is never ready.
    @Test func aChildThatNeverStartsStopsUpWithItsLastWords() async throws {
        let (up, data, _, dir) = try startUpProcess(
            metrics: "", services: ["--profiles", "1", "--video", "0", "--recommendations", "0"]
        ) { data in
            let folder = "\(data)/profiles"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: "\(folder)/profiles.sqlite"))
        }
        _ = dir
        let status = await up.waitForExit(timeout: .seconds(60))
        #expect(status != nil && status != 0, "metro up exits by itself: \(up.stderrText)")
        #expect(
            up.stderrText.contains(
                "profiles-1 was never ready: it exited at each of 5 starts in a row (the last with exit status 1; its last line: Error: cannot open the service's database"
            ), "\(up.stderrText)")
        #expect(up.stderrText.contains("file is not a database"))
        #expect(up.stderrText.components(separatedBy: "started profiles-1").count - 1 == 5, "started 5 times")
        #expect(readyLines(up).isEmpty)
        try await waitFor("children gone") { pids(matching: "--data-dir \(data)/broker").isEmpty }
    }

    @Test func restartsAKilledChildAndStopsEverythingOnSIGTERM() async throws {
        let (up, data, registry, dir) = try await startUp()
        let brokers = pids(matching: "broker --data-dir \(data)/broker")
        #expect(brokers.count == 1)
        kill(brokers[0], SIGKILL)
        // The supervisor starts a new broker, which is ready again.
        try await waitFor("the broker restarted", timeout: .seconds(30)) {
            up.stderrText.contains("broker is ready again")
        }
        let restarted = pids(matching: "broker --data-dir \(data)/broker")
        #expect(restarted.count == 1 && restarted != brokers)

        // metro top's PROCESSES, from up.status.json: the restart and how the last one ended.
        let consume = try #require(Self.readyField(readyLines(up).first, "consume"))
        let top = try MetroProcess([
            "top", "--once", "--interval", "0.2", "--consume", consume, "--registry", registry, "--gateway", "",
            "--data-dir", data, "--json",
        ])
        #expect(await top.waitForExit() == 0, "\(top.stderrText)")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(top.stdoutLines.joined().utf8)) as? [String: Any])
        let processes = try #require(object["processes"] as? [String: Any])
        #expect(processes["ok"] as? Bool == true)
        let children = try #require(processes["children"] as? [[String: Any]])
        let broker = try #require(children.first { $0["name"] as? String == "broker" })
        #expect(broker["restarts"] as? Int == 1, "\(broker)")
        #expect(broker["state"] as? String == "ready")
        #expect(broker["lastExit"] as? String == "killed by signal 9")
        #expect(broker["pid"] as? Int == Int(restarted[0]))
        let registryChild = try #require(children.first { $0["name"] as? String == "registry" })
        #expect(registryChild["restarts"] as? Int == 0)

        // metro doctor's system row says the same, as a warning.
        let doctor = try MetroProcess([
            "doctor", "--data-dir", data, "--config", dir.path + "/broker.yaml", "--registry", registry, "--gateway",
            "",
            "--json",
        ])
        _ = await doctor.waitForExit(timeout: .seconds(60))
        let checks = try #require(
            try JSONSerialization.jsonObject(with: Data(doctor.stdoutLines.joined().utf8)) as? [[String: Any]])
        let system = try #require(checks.first { $0["name"] as? String == "system" }, "\(checks)")
        #expect(system["warning"] as? Bool == true)
        #expect(
            (system["detail"] as? String)?.contains("restarted: broker ×1 (last: killed by signal 9") == true,
            "\(system)")

        up.kill(SIGTERM)
        #expect(await up.waitForExit(timeout: .seconds(20)) == 0)
        try await waitFor("children gone") { pids(matching: "--data-dir \(data)/broker").isEmpty }
        #expect(pids(matching: "registry --endpoint \(registry)").isEmpty)
        #expect(
            !FileManager.default.fileExists(atPath: data + "/up.status.json"), "a clean stop leaves no status behind")
    }

    static func readyField(_ line: String?, _ key: String) -> String? {
        guard let line,
            let object = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: String]
        else { return nil }
        return object[key]
    }

    /// A child's death is seen even while another process holds copies of its
    /// descriptors (as once in a chaos soak, where Foundation's `Process` never
    /// reported a killed worker, so it was never restarted): the supervisor asks
    /// the kernel. Here a `sleep` beside each child keeps them open for 30 s.
    @Test func aKilledChildIsRestartedWhileOthersHoldItsDescriptors() async throws {
        let (up, data, _, dir) = try await startUp(environment: ["METRO_FAULT_HIDE_CHILD_EXITS": "1"])
        _ = dir
        let broker = try #require(pids(matching: "broker --data-dir \(data)/broker").first)
        kill(broker, SIGKILL)
        // Well before the `sleep 30` lets go of the descriptors.
        try await waitFor("the broker is ready again", timeout: .seconds(10)) {
            up.stderrText.contains("broker is ready again")
        }
        #expect(up.stderrText.contains("broker was killed by signal 9; restarting"), "\(up.stderrText)")
        up.kill(SIGTERM)
        #expect(await up.waitForExit(timeout: .seconds(30)) == 0)
        try await waitFor("children gone") { pids(matching: "--data-dir \(data)/broker").isEmpty }
    }

    /// A supervisor killed with -9 leaves no orphans holding its ports: the
    /// children see their parent change and stop gracefully.
    @Test func childrenStopWhenTheSupervisorIsKilled() async throws {
        let (up, data, registry, dir) = try await startUp()
        _ = dir
        #expect(pids(matching: "broker --data-dir \(data)/broker").count == 1)
        up.kill(SIGKILL)
        _ = await up.waitForExit()
        try await waitFor("the orphaned children stopped") {
            pids(matching: "--data-dir \(data)/broker").isEmpty
                && pids(matching: "registry --endpoint \(registry)").isEmpty
        }
        // Its status file stays behind; metro top says it is stale.
        let top = try MetroProcess([
            "top", "--once", "--interval", "0.1", "--timeout-ms", "200", "--consume",
            "tcp://127.0.0.1:\(TestPorts.next())",
            "--registry", registry, "--gateway", "", "--data-dir", data,
        ])
        _ = await top.waitForExit()
        let screen = top.stdoutLines.joined(separator: "\n")
        #expect(screen.contains("metro up is not running: its last status, of"), "\(screen)")
    }
}

/// `metro up` with service workers (issue 16 §1): every instance registered
/// before the one ready line, a killed worker restarted, and shutdown in
/// dependency order with nothing left behind.
@Suite(.serialized) struct UpSystemTests {
    let up = UpTests()

    /// The services flags of these tests: every kind, two video instances, synthetic media.
    static let services = [
        "--profiles", "1", "--video", "2", "--recommendations", "1", "--video-jobs", "1", "--synthetic-work-ms", "5",
    ]

    /// The registry's instances as `service/instance` → epoch.
    func registered(_ registry: String) async throws -> [String: UInt64] {
        let client = try RegistryClient(endpoints: [registry])
        defer { Task { await client.close() } }
        let listed = try await client.list()
        return Dictionary(listed.map { ("\($0.service)/\($0.instance)", $0.epoch) }) { a, _ in a }
    }

    @Test func startsEveryInstanceRestartsAKilledWorkerAndStopsAllInOrder() async throws {
        let gateway = "127.0.0.1:\(TestPorts.next())"
        let (up, data, registry, dir) = try await self.up.startUp(
            services: Self.services + ["--gateway", gateway], timeout: .seconds(90))
        _ = dir
        let line = try #require(self.up.readyLines(up).first)
        let fields = try #require(
            try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: String])
        #expect(fields["profiles"] == "profiles-1")
        #expect(fields["video"] == "video-1,video-2")
        #expect(fields["recommendations"] == "recommendations-1")
        #expect(fields["registry"] == registry)
        // The human block goes to stderr right after the ready line on stdout: another
        // pipe, read by another thread, so it may arrive a moment later.
        try await waitFor("the human ready line") { up.stderrText.contains("ready in ") }
        #expect(fields["gateway"] == gateway)
        let readyz = try await HTTPTestClient.send(gateway, "GET", "/readyz")
        #expect(readyz.status == 200, "the gateway serves once up is ready: \(readyz.text)")

        // Ready means registered: the registry lists every instance already.
        let expected = ["profiles/profiles-1", "video/video-1", "video/video-2", "recommendations/recommendations-1"]
        let before = try await registered(registry)
        for name in expected { #expect(before[name] != nil, "\(name) registered: \(before)") }
        #expect(up.stderrText.contains("video-2 | "), "a worker's log lines carry its instance name")

        // The operator's video flags reach the video workers.
        let videos = self.up.pids(matching: "--data \(data) --instance video-1 ")
        #expect(videos.count == 1)
        let args = self.up.commandLine(try #require(videos.first))
        #expect(args.contains("--synthetic-work-ms 5") && args.contains("--jobs 1") && args.contains("--data \(data)"))

        // A killed worker comes back and registers again (a new incarnation).
        kill(try #require(videos.first), SIGKILL)
        try await waitFor("video-1 restarted and registered again", timeout: .seconds(60), interval: .milliseconds(200))
        {
            let now = self.up.pids(matching: "--data \(data) --instance video-1 ")
            guard now.count == 1, now != videos else { return false }
            let epochs = (try? await registered(registry)) ?? [:]
            return epochs["video/video-1"].map { $0 != before["video/video-1"] } ?? false
        }
        #expect(self.up.readyLines(up).count == 1, "one ready line, also after a restart")
        // up freed the dead incarnation's lease (DeadInstanceReaper) rather than let the
        // restart wait up to the 10 s TTL for it to run out (protocol.md §5.4's 305).
        #expect(
            up.stderrText.contains("deregistered the dead incarnation of video-1"),
            "up deregisters a worker it saw die: \(up.stderrText.suffix(3000))")

        // SIGINT: workers first, then the registry, then the broker; nothing left.
        up.kill(SIGINT)
        #expect(await up.waitForExit(timeout: .seconds(60)) == 0)
        try await waitFor("every child gone") { self.up.pids(matching: data).isEmpty }
        #expect(self.up.pids(matching: "registry --endpoint \(registry)").isEmpty)
        #expect(self.up.pids(matching: "gateway --listen \(gateway)").isEmpty)
        let log = up.stderrText
        let stages = ["stopping stage 3", "stopping stage 2", "stopping stage 1", "stopping stage 0"]
        let order = stages.map { log.range(of: $0)?.lowerBound }
        #expect(order.allSatisfy { $0 != nil }, "\(log)")
        let found = order.compactMap { $0 }
        #expect(found == found.sorted(), "dependency order: gateway, workers, registry, broker")
    }
}

extension UpSystemTests {
    /// A worker that does not stop on SIGTERM (here: frozen with SIGSTOP) gets
    /// SIGKILL after `--stop-timeout-ms`; shutdown then goes on and ends.
    @Test func aWorkerThatDoesNotStopIsKilledAfterTheStopTimeout() async throws {
        let (up, data, _, dir) = try await self.up.startUp(
            services: [
                "--profiles", "1", "--video", "0", "--recommendations", "0", "--stop-timeout-ms", "1500",
            ], timeout: .seconds(60))
        _ = dir
        let worker = try #require(self.up.pids(matching: "--data \(data) --instance profiles-1 ").first)
        kill(worker, SIGSTOP)
        up.kill(SIGINT)
        #expect(await up.waitForExit(timeout: .seconds(30)) == 0)
        #expect(up.stderrText.contains("did not stop"), "\(up.stderrText)")
        try await waitFor("every child gone") { self.up.pids(matching: data).isEmpty }
    }
}

/// The system file names what `metro up` starts; flags override it.
@Suite(.serialized) struct UpSystemFileTests {
    let up = UpTests()

    @Test func countsComeFromTheSystemFileAndFlagsOverrideThem() async throws {
        let files = try TemporaryDirectory()
        let system = files.url.appendingPathComponent("system.yaml").path
        try "services:\n  profiles: 0\n  video: 1\n  recommendations: 0\nvideo:\n  syntheticWorkMs: 3\n".write(
            toFile: system, atomically: true, encoding: .utf8)
        let (up, data, _, dir) = try await self.up.startUp(
            services: ["--system", system, "--profiles", "1"], timeout: .seconds(60))
        _ = dir
        let fields = try #require(MetroProcessReady.fields(self.up.readyLines(up).first))
        #expect(fields["video"] == "video-1")
        #expect(fields["profiles"] == "profiles-1", "the flag overrides the file's 0")
        #expect(fields["recommendations"] == nil, "0 instances: not started")
        #expect(self.up.pids(matching: "--data \(data) --instance recommendations-").isEmpty)
        let video = try #require(self.up.pids(matching: "--data \(data) --instance video-1 ").first)
        #expect(self.up.commandLine(video).contains("--synthetic-work-ms 3"), "the file's video settings pass through")
        up.kill(SIGTERM)
        #expect(await up.waitForExit(timeout: .seconds(60)) == 0)
        try await waitFor("every child gone") { self.up.pids(matching: data).isEmpty }
    }

    @Test func anUnknownServiceInTheSystemFileIsRefusedByName() async throws {
        let files = try TemporaryDirectory()
        let system = files.url.appendingPathComponent("system.yaml").path
        try "services:\n  gateway: 1\n".write(toFile: system, atomically: true, encoding: .utf8)
        let up = try MetroProcess([
            "up", "--data-dir", files.url.appendingPathComponent("data").path, "--system", system,
        ])
        #expect(await up.waitForExit(timeout: .seconds(20)) != 0)
        #expect(up.stderrText.contains("services.gateway: unknown service"), "\(up.stderrText)")
    }
}

/// The JSON object of a `ready {json}` line, its values as strings.
enum MetroProcessReady {
    static func fields(_ line: String?) -> [String: String]? {
        guard let line else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: String]
    }
}
