import Foundation
import MetroSoak
import MetroTestKit
import Testing

/// `metro soak` of the real binary (issue 16 §4): what the driver guarantees —
/// the history it records (operations, faults with their recovery, a sample
/// series for every process), the files it writes, the exit status — and, once
/// the checker and report branches are in, the report's verdict on every
/// invariant. Everything it starts is stopped: no `metro` is left behind.
@Suite(.serialized) struct SoakRunTests {
    static let invariants = [
        "uploads-processed-once", "views-in-history-once", "views-in-model-once", "acked-events-in-journal",
        "seqs-increase-ids-unique", "groups-drain", "requests-answer-in-deadline", "rss-bounded",
    ]

    func history(_ folder: String) throws -> SoakHistory {
        let data = try #require(FileManager.default.contents(atPath: folder + "/history.json"))
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(SoakHistory.self, from: data)
    }

    func text(_ path: String) -> String {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// Running processes whose command line mentions one of `needles` (a test's
    /// temporary folder: `up`, the broker, the workers; its registry endpoint:
    /// the registry and the gateway, whose arguments name no folder).
    func processes(mentioning needles: [String]) -> [Int32] {
        let all = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
        return all.filter { pid in
            guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let line = String(decoding: raw.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return needles.contains { line.contains($0) }
        }
    }

    /// Whatever a failed test left running (a soak killed at its time limit leaves its `metro up`).
    func killLeftovers(_ needles: [String]) {
        for pid in processes(mentioning: needles) { kill(pid, SIGKILL) }
    }

    /// Checks the report files: each invariant by name with a verdict, in JSON and Markdown.
    func checkReport(_ out: String) throws {
        let json = try #require(FileManager.default.contents(atPath: out + "/soak-report.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(report["version"] as? Int == 2)
        #expect(report["failures"] is [Any], "soak-report.json has the failures by cause")
        let jsonText = String(decoding: json, as: UTF8.self)
        let markdown = text(out + "/soak-report.md")
        for name in Self.invariants {
            #expect(jsonText.contains("\"\(name)\""), "soak-report.json names \(name)")
            #expect(markdown.contains(name), "soak-report.md names \(name)")
        }
        #expect(markdown.contains("## Failures"))
        #expect(text(out + "/soak-report.html").contains("<h2>Failures</h2>"), "an HTML page with the failures")
    }

    /// `--secure`: the soak starts `metro up --secure` and drives it with the
    /// operator's CURVE key and a gateway token (production's configuration):
    /// views acknowledged, rpc and HTTP answered, a kill -9 and a full journal disk
    /// recovered under CURVE; the report says so and its repeat command has
    /// `--secure`.
    @Test(.timeLimit(.minutes(3))) func aSecureSoakDrivesTheSystemWithItsKeys() async throws {
        let dir = try TemporaryDirectory()
        let out = dir.path + "/out"
        let e = try TestPorts.freeEndpoints(6)
        defer { killLeftovers([dir.path, e[4]]) }
        let soak = try MetroProcess([
            "soak", "--secure", "--chaos", "--seed", "1380", "--rate", "40", "--duration", "10s", "--fault-interval",
            "4", "--out", out, "--data-dir", dir.path + "/data", "--ingest", e[0], "--publish", e[1], "--events", e[2],
            "--consume", e[3], "--registry", e[4], "--gateway", String(e[5].dropFirst("tcp://".count)),
            "--video", "1", "--drain-timeout", "20",
        ])
        let status = await soak.waitForExit(timeout: .seconds(150))
        #expect(status == 0, "metro soak --secure: \(soak.stderrText)")
        #expect(text(out + "/up.log").contains("CURVE on"), "the system ran with CURVE")
        let h = try history(out)
        let ok = h.operations.filter { $0.outcome == .ok }
        #expect(ok.contains { $0.kind == .view && $0.seq != nil }, "views acknowledged over CURVE")
        #expect(ok.contains { $0.kind == .signUp }, "rpc to profiles over CURVE")
        #expect(ok.contains { $0.kind == .recommend && $0.via == "http" }, "the gateway took the soak's token")
        #expect(!h.faults.isEmpty && h.faults.allSatisfy { $0.wholeAgainNs != nil }, "\(h.faults)")
        let markdown = text(out + "/soak-report.md")
        #expect(markdown.contains("CURVE on every socket, bearer tokens at the gateway"), "\(markdown)")
        #expect(markdown.contains("metro soak --rate 40 --duration 10s --chaos --secure --seed 1380"), "\(markdown)")
        try checkReport(out)
        #expect(processes(mentioning: [dir.path, e[4]]).isEmpty, "no metro left running")
    }

    /// 20 s with chaos at 50 ops/s against a system the soak starts itself: the
    /// history holds every kind of operation, each fault with the time the system
    /// was whole again, and samples of every process; the report judges every
    /// invariant; exit status 0; nothing left running.
    @Test(.timeLimit(.minutes(3))) func aChaosSoakRecordsFaultsSamplesAndVerdicts() async throws {
        let dir = try TemporaryDirectory()
        let out = dir.path + "/out"
        let e = try TestPorts.freeEndpoints(6)
        defer { killLeftovers([dir.path, e[4]]) }
        // Seed 1380 draws a kill at ~1.5 s, a full disk under the journal at ~3 s
        // (4.1 s), then one under the recommendations database at ~8.3 s (6.9 s),
        // each once the system is whole again (mean gap 4 s): the last starts ~12 s
        // before the load ends, room for a slow machine's recoveries.
        let soak = try MetroProcess([
            "soak", "--chaos", "--seed", "1380", "--rate", "50", "--duration", "20s", "--fault-interval", "4",
            "--out", out, "--data-dir", dir.path + "/data", "--ingest", e[0], "--publish", e[1], "--events", e[2],
            "--consume", e[3], "--registry", e[4], "--gateway", String(e[5].dropFirst("tcp://".count)),
            "--video", "1", "--drain-timeout", "20",
        ])
        let status = await soak.waitForExit(timeout: .seconds(150))
        #expect(status == 0, "metro soak: \(soak.stderrText)")
        // The progress line (every 5 s off a terminal) counts as the report does.
        let progress = try #require(
            soak.stderrText.split(separator: "\n").first { $0.hasPrefix("soak ") && $0.contains(" sent ") },
            "\(soak.stderrText)")
        #expect(progress.contains(" failed ") && progress.contains(" faults "), "\(progress)")
        #expect(!progress.contains(" errors ") && !progress.contains(" saturated "), "\(progress)")

        let h = try history(out)
        let ok = h.operations.filter { $0.outcome == .ok }
        for kind in SoakOperation.Kind.allCases {
            #expect(ok.contains { $0.kind == kind }, "an acknowledged \(kind)")
        }
        #expect(ok.filter { $0.kind == .view }.allSatisfy { $0.seq != nil && $0.eventId != nil })
        #expect(h.operations.filter { $0.kind == .recommend }.allSatisfy { $0.via == "http" || $0.via == "none" })
        // Uploads go both ways: through the gateway's POST /v1/videos and by rpc.
        for via in ["http", "rpc"] {
            #expect(ok.contains { $0.kind == .upload && $0.via == via && $0.videoId != nil }, "an upload via \(via)")
        }
        let rate = Double(h.operations.count) / 20
        #expect(rate > 25, "about 50 ops/s aimed at, \(h.operations.count) operations")

        #expect(!h.faults.isEmpty, "faults injected: \(soak.stderrText)")
        for fault in h.faults {
            #expect(fault.wholeAgainNs != nil && fault.wholeAgainNs! >= fault.startNs, "\(fault)")
        }
        let kill = try #require(h.faults.first { $0.kind == .kill }, "seed 1380 kills: \(h.faults)")
        #expect(kill.detail.contains("restarted as pid"), "\(kill.detail)")
        let journal = try #require(
            h.faults.first { $0.kind == .diskFull && $0.target == "broker" }, "seed 1380 fills the journal's disk")
        #expect(journal.detail.contains("refused acknowledged publishes"), "\(journal.detail)")
        #expect(journal.detail.contains("took events again by itself"), "\(journal.detail)")
        // Views arrive at ~30/s meanwhile: the worker holds them and commits them after.
        let database = try #require(
            h.faults.first { $0.kind == .diskFull && $0.target == "recommendations" },
            "seed 1380 fills the recommendations database's disk: \(h.faults)")
        #expect(database.detail.contains("held events and retried them, then committed them"), "\(database.detail)")
        let names = Set(h.samples.map(\.name))
        for name in ["up", "broker", "registry", "gateway", "profiles-1", "video-1", "recommendations-1"] {
            #expect(names.contains(name), "samples of \(name): \(names)")
            let series = h.samples.filter { $0.name == name }
            #expect(series.count >= 10 && series.allSatisfy { $0.rssBytes > 0 }, "\(name): \(series.count)")
        }
        try checkReport(out)
        #expect(text(out + "/up.log").contains("broker"), "metro up's log is kept")

        #expect(processes(mentioning: [dir.path, e[4]]).isEmpty, "no metro left running")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/data/soak-disk-full.flag"))
    }

    /// `--attach` drives a system the test started (its pids found through /proc:
    /// samples), and leaves it running.
    @Test(.timeLimit(.minutes(2))) func attachDrivesARunningSystem() async throws {
        let dir = try TemporaryDirectory()
        let e = try TestPorts.freeEndpoints(5)
        defer { killLeftovers([dir.path, e[4]]) }
        let up = try await Self.startUp(dir, e, ["--synthetic-work-ms", "10"])
        let out = dir.path + "/out"
        let soak = try MetroProcess([
            "soak", "--attach", "--no-gateway", "--seed", "5", "--rate", "30", "--duration", "6s", "--out", out,
            "--ingest", e[0], "--publish", e[1], "--events", e[2], "--consume", e[3], "--registry", e[4],
            "--drain-timeout", "20",
        ])
        let status = await soak.waitForExit(timeout: .seconds(90))
        #expect(status == 0, "metro soak --attach: \(soak.stderrText)")
        let h = try history(out)
        #expect(h.operations.contains { $0.kind == .view && $0.outcome == .ok })
        #expect(h.operations.filter { $0.kind == .recommend }.allSatisfy { $0.via == "rpc" || $0.via == "none" })
        #expect(h.faults.isEmpty)
        #expect(Set(h.samples.map(\.name)).isSuperset(of: ["broker", "registry", "video-1"]))
        try checkReport(out)
        #expect(up.isRunning, "an attached system is left running")
        up.kill(SIGTERM)
        #expect(await up.waitForExit(timeout: .seconds(40)) != nil)
        try await waitFor("no metro left") { processes(mentioning: [dir.path, e[4]]).isEmpty }
    }

    /// `--attach --keys DIR` drives a running `metro up --secure` with its key
    /// folder; without the keys the same soak cannot reach it and says why.
    @Test(.timeLimit(.minutes(2))) func attachWithKeysDrivesARunningSecureSystem() async throws {
        let dir = try TemporaryDirectory()
        let e = try TestPorts.freeEndpoints(5)
        defer { killLeftovers([dir.path, e[4]]) }
        let up = try await Self.startUp(dir, e, ["--synthetic-work-ms", "10", "--secure"])
        let endpoints = [
            "--ingest", e[0], "--publish", e[1], "--events", e[2], "--consume", e[3], "--registry", e[4],
        ]
        let plain = try MetroProcess(
            ["soak", "--attach", "--no-gateway", "--duration", "3s", "--out", dir.path + "/plain"] + endpoints)
        #expect(await plain.waitForExit(timeout: .seconds(60)) == 2, "\(plain.stderrText)")
        #expect(plain.stderrText.contains("it requires CURVE"), "\(plain.stderrText)")
        let out = dir.path + "/out"
        let soak = try MetroProcess(
            [
                "soak", "--attach", "--keys", dir.path + "/data/keys", "--no-gateway", "--seed", "5", "--rate", "30",
                "--duration", "6s", "--out", out, "--drain-timeout", "20",
            ] + endpoints)
        #expect(await soak.waitForExit(timeout: .seconds(90)) == 0, "metro soak --attach --keys: \(soak.stderrText)")
        let h = try history(out)
        #expect(h.operations.contains { $0.kind == .view && $0.outcome == .ok })
        #expect(h.operations.contains { $0.kind == .signUp && $0.outcome == .ok })
        #expect(text(out + "/soak-report.md").contains("- security: CURVE on every socket"))
        #expect(
            text(out + "/soak-report.md").contains(
                "metro soak --attach --ingest \(e[0]) --publish \(e[1]) --events \(e[2]) --consume \(e[3]) --registry \(e[4]) --keys \(dir.path)/data/keys --rate 30"
            ), "the repeat command names the system and its keys")
        up.kill(SIGTERM)
        #expect(await up.waitForExit(timeout: .seconds(40)) != nil)
        try await waitFor("no metro left") { processes(mentioning: [dir.path, e[4]]).isEmpty }
    }

    /// `metro up` with its endpoints on `e` (ingest, publish, events, consume,
    /// registry), no gateway, one video worker, and `extra` arguments.
    static func startUp(_ dir: TemporaryDirectory, _ e: [String], _ extra: [String]) async throws -> MetroProcess {
        let config = try writeBrokerConfig(in: dir.path, e)
        let up = try MetroProcess(
            [
                "up", "--data-dir", dir.path + "/data", "--config", config, "--registry", e[4], "--gateway", "",
                "--video", "1",
            ] + extra)
        try await waitFor("metro up ready", timeout: .seconds(60)) {
            up.stdoutLines.contains { $0.hasPrefix("ready ") } || !up.isRunning
        }
        return up
    }

    /// Attached to a system whose video worker processes real media (no
    /// `--synthetic-work-ms`), the soak's synthetic uploads all fail, so views and
    /// recommendations (80% of the mix) would never be sent and the run would
    /// still pass: it stops after the warm-up instead, status 2, naming
    /// `--real-media`. (Found by running the documented attach command against
    /// `make run`'s system: 713 uploads, 0 views, PASS.)
    @Test(.timeLimit(.minutes(2))) func attachWithSyntheticUploadsToARealMediaSystemIsRefused() async throws {
        let dir = try TemporaryDirectory()
        let e = try TestPorts.freeEndpoints(5)
        defer { killLeftovers([dir.path, e[4]]) }
        let up = try await Self.startUp(dir, e, [])
        let soak = try MetroProcess([
            "soak", "--attach", "--no-gateway", "--seed", "5", "--rate", "30", "--duration", "6s",
            "--out", dir.path + "/out", "--ingest", e[0], "--publish", e[1], "--events", e[2], "--consume", e[3],
            "--registry", e[4],
        ])
        #expect(await soak.waitForExit(timeout: .seconds(90)) == 2, "\(soak.stderrText)")
        #expect(soak.stderrText.contains("the system failed every warm-up upload"), "\(soak.stderrText)")
        #expect(soak.stderrText.contains("needs --real-media"), "\(soak.stderrText)")
        #expect(up.isRunning, "an attached system is left running")
        up.kill(SIGTERM)
        #expect(await up.waitForExit(timeout: .seconds(40)) != nil)
        try await waitFor("no metro left") { processes(mentioning: [dir.path, e[4]]).isEmpty }
    }

    /// A soak killed with -9 takes its system with it: `metro up` watches the soak's
    /// pid (`METRO_SUPERVISOR_PID`) and stops its children, then itself. Before, the
    /// whole system stayed up on the soak's ports.
    @Test(.timeLimit(.minutes(2))) func aSoakKilledWithMinus9LeavesNothingRunning() async throws {
        let dir = try TemporaryDirectory()
        let e = try TestPorts.freeEndpoints(6)
        defer { killLeftovers([dir.path, e[4]]) }
        let soak = try MetroProcess([
            "soak", "--seed", "3", "--rate", "20", "--duration", "60s", "--out", dir.path + "/out",
            "--data-dir", dir.path + "/data", "--ingest", e[0], "--publish", e[1], "--events", e[2],
            "--consume", e[3], "--registry", e[4], "--gateway", String(e[5].dropFirst("tcp://".count)),
            "--video", "1",
        ])
        try await waitFor("the soak's load", timeout: .seconds(60)) {
            soak.stderrText.contains("warming up") || !soak.isRunning
        }
        #expect(soak.isRunning, "\(soak.stderrText)")
        #expect(processes(mentioning: [dir.path + "/data/broker"]).count == 1, "the soak's broker runs")
        soak.kill(SIGKILL)
        _ = await soak.waitForExit()
        try await waitFor("no metro left", timeout: .seconds(60)) { processes(mentioning: [dir.path, e[4]]).isEmpty }
        #expect(text(dir.path + "/out/up.log").contains("the supervisor is gone"))
    }

    /// `--secure` starts a system and `--keys` is for one attached to: mixed up,
    /// refused with status 2 and what to give instead.
    @Test func secureAndKeysAreRefusedInTheWrongMode() async throws {
        let dir = try TemporaryDirectory()
        let attached = try MetroProcess(["soak", "--attach", "--secure", "--duration", "5s", "--out", dir.path + "/a"])
        #expect(await attached.waitForExit() == 2)
        #expect(
            attached.stderrText.contains("with --attach, give its key folder with --keys"), "\(attached.stderrText)")
        let started = try MetroProcess(["soak", "--keys", dir.path, "--duration", "5s", "--out", dir.path + "/b"])
        #expect(await started.waitForExit() == 2)
        #expect(started.stderrText.contains("--keys is for --attach"), "\(started.stderrText)")
    }

    /// `--chaos --attach` needs the processes: refused, status 2, saying why.
    @Test func chaosAttachWithoutProcessesIsRefused() async throws {
        let dir = try TemporaryDirectory()
        let registry = try TestPorts.freeEndpoints(1)[0]
        let soak = try MetroProcess([
            "soak", "--attach", "--chaos", "--registry", registry, "--duration", "5s", "--out", dir.path + "/out",
        ])
        #expect(await soak.waitForExit() == 2)
        #expect(soak.stderrText.contains("--chaos with --attach needs the system's processes"), "\(soak.stderrText)")
        #expect(soak.stderrText.contains(registry))
    }
}

#if canImport(Glibc)
    import Glibc
#endif
