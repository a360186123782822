import Foundation
import MetroTestKit
import Testing

/// One `--log-level` for every `metro` subcommand (issue 13 §4): the same type
/// (swift-log's `Logger.Level`), the same error for a bad value, and a level that
/// reaches every logger of the process, children of `metro up` included.
@Suite(.serialized) struct LogLevelTests {
    /// Each subcommand with the options it requires, so that only the level is wrong.
    static let subcommands: [[String]] = [
        ["broker"], ["broker", "run"], ["broker", "stats"], ["registry"], ["up"], ["doctor"], ["services"],
        ["consume", "--group", "g"],
        ["announce", "--service", "s", "--instance", "i", "--endpoint", "tcp://127.0.0.1:1"],
    ]

    @Test(arguments: subcommands)
    func anUnknownLevelIsAUsageError(subcommand: [String]) async throws {
        let dir = try TemporaryDirectory()
        // A broker that took the option would start: in a folder of its own.
        let data = subcommand == ["broker"] || subcommand == ["broker", "run"] ? ["--data-dir", dir.path] : []
        let p = try MetroProcess(subcommand + data + ["--log-level", "loud"])
        // The bound only catches a command that runs instead of refusing: 10 s was not
        // enough for a `metro registry` to start and refuse in the first wave of a
        // clean-clone CI run (status nil).
        let status = await p.waitForExit(timeout: .seconds(60))
        #expect(status == 64, "\(subcommand): status \(String(describing: status)), stderr: \(p.stderrText)")
        #expect(p.stderrText.contains("The value 'loud' is invalid for '--log-level <log-level>'"), "\(p.stderrText)")
        #expect(p.stderrText.contains("- trace\n") && p.stderrText.contains("- critical\n"), "\(p.stderrText)")
    }

    /// `--log-level warning` silences the info lines a broker logs at start.
    @Test func theBrokerLogsAtTheLevelGiven() async throws {
        let chatty = try await BrokerHarness()
        #expect(await chatty.process.stderrShows("journal recovered"))
        #expect(await chatty.stop() == 0)
        let quiet = try await BrokerHarness(arguments: ["--log-level", "warning"])
        #expect(await quiet.stop() == 0)
        #expect(!quiet.process.stderrText.contains(" info "), "\(quiet.process.stderrText)")
    }

    /// `metro up --log-level warning`: neither the supervisor nor its children
    /// (which get the same option) log at info.
    @Test func upPassesTheLevelToItsChildren() async throws {
        let dir = try TemporaryDirectory()
        let e = try UpTests().freeEndpoints(5)
        let config = try writeBrokerConfig(in: dir.path, e)
        let up = try MetroProcess([
            "up", "--data-dir", dir.url.appendingPathComponent("data").path, "--config", config, "--registry", e[4],
            "--gateway", "", "--log-level", "warning",
        ])
        // `metro up` prints one ready line once both children are ready.
        try await waitFor("broker and registry ready", timeout: .seconds(30)) {
            up.stdoutLines.contains { $0.hasPrefix("ready ") }
        }
        up.kill(SIGTERM)
        #expect(await up.waitForExit(timeout: .seconds(20)) == 0)
        #expect(!up.stderrText.contains(" info "), "\(up.stderrText)")
    }

    /// `metro up --log-format json`: every line on stderr is one JSON object,
    /// the children's carry `process`, the ready summary is one record, and a
    /// child's plain line (ArgumentParser's `Error: ...` of a worker whose
    /// database is not SQLite) becomes a record of its own, whose words the
    /// supervisor quotes when it gives up.
    @Test func upWithJSONLogsWritesOneObjectPerLine() async throws {
        let up = UpTests()
        let (ok, _, _, okDir) = try await up.startUp(
            services: ["--profiles", "1", "--video", "0", "--recommendations", "0"],
            environment: ["METRO_LOG_FORMAT": "json"])
        _ = okDir
        try await waitFor("the ready record") { ok.stderrText.contains("\"message\":\"ready in ") }
        ok.kill(SIGTERM)
        #expect(await ok.waitForExit(timeout: .seconds(30)) == 0)
        let records = try Self.records(ok.stderrText)
        #expect(
            records.contains { $0["process"] as? String == "broker" && $0["message"] as? String == "journal recovered" }
        )
        #expect(
            records.contains {
                $0["process"] as? String == "profiles-1" && $0["label"] as? String == "metro.worker.profiles"
            })
        let ready = try #require(records.first { ($0["message"] as? String)?.hasPrefix("ready in ") == true })
        #expect(ready["label"] as? String == "metro.up" && ready["level"] as? String == "notice")
        #expect((ready["summary"] as? String)?.contains("metro publish video.watched --example") == true)
        #expect(records.allSatisfy { ($0["time"] as? String)?.hasSuffix("Z") == true })

        let (failing, _, _, failingDir) = try up.startUpProcess(
            metrics: "", services: ["--profiles", "1", "--video", "0", "--recommendations", "0"],
            environment: ["METRO_LOG_FORMAT": "json"]
        ) { data in
            try FileManager.default.createDirectory(atPath: "\(data)/profiles", withIntermediateDirectories: true)
            try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: "\(data)/profiles/profiles.sqlite"))
        }
        _ = failingDir
        #expect(await failing.waitForExit(timeout: .seconds(60)) != 0)
        let failed = try Self.records(failing.stderrText)
        #expect(
            failed.contains {
                $0["process"] as? String == "profiles-1" && $0["level"] as? String == "error"
                    && ($0["message"] as? String)?.hasPrefix("cannot open the service's database") == true
            }, "the worker's fatal error is a record too, not ArgumentParser's plain line")
        #expect(
            failed.contains {
                $0["level"] as? String == "critical"
                    && ($0["message"] as? String)?.contains("its last line: cannot open the service's database")
                        == true
            }, "the supervisor quotes the words, not the JSON around them")

        // A child's line that is not JSON (the fault library's report of a failed
        // fdatasync, written by C) becomes a record of its own.
        let disk = try FaultInjection(pathFilter: ".seg")
        disk.failSyncs(true)
        var environment = try disk.environment
        environment["METRO_LOG_FORMAT"] = "json"
        let (faulty, _, _, faultyDir) = try up.startUpProcess(metrics: "", environment: environment)
        _ = faultyDir
        #expect(await faulty.waitForExit(timeout: .seconds(60)) != 0)
        let faults = try Self.records(faulty.stderrText)
        #expect(
            faults.contains {
                $0["process"] as? String == "broker" && $0["label"] as? String == "metro.up.output"
                    && ($0["message"] as? String)?.hasPrefix("faultinject: ") == true
            }, "\(faulty.stderrText.prefix(3000))")
    }

    /// Each line of `text` as a JSON object (a line that is not one fails the test).
    static func records(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map { line in
            try #require(
                try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)"
            )
        }
    }
}
