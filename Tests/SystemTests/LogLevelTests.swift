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
        #expect(chatty.process.stderrText.contains("journal recovered"))
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
}
