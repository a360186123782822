import Foundation
import MetroTestKit
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `metro-broker-bench` as a user meets it: `--help` helps, and Ctrl-C leaves
/// no broker running and no journal folder in the temp directory.
@Suite(.serialized) struct BrokerBenchCLITests {
    var bench: URL { MetroProcess.binary.deletingLastPathComponent().appendingPathComponent("metro-broker-bench") }

    /// The pids of processes whose command line contains `needle`.
    func pids(matching needle: String) -> [Int32] {
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return procs.compactMap { Int32($0) }.filter { pid in
            guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: raw.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(needle)
        }
    }

    @Test func helpPrintsUsageAndStartsNothing() async throws {
        let dir = try TemporaryDirectory()
        let p = try ChildProcess(bench, ["--help"], environment: ["TMPDIR": dir.path + "/"])
        #expect(await p.waitForExit(timeout: .seconds(10)) == 0)
        #expect(p.stdoutText.contains("usage:"), "\(p.stdoutText)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func anInterruptedBenchLeavesNoBrokerAndNoFolder() async throws {
        let dir = try TemporaryDirectory()
        let tmp = dir.path + "/"
        // The acknowledged part starts a broker first (the others begin with zmq_proxy runs),
        // after the disk's limit and window 1's floors: few window-1 events, so that
        // their fdatasyncs (slow while the other suites use the disk) end soon.
        let p = try ChildProcess(
            bench, ["--rounds", "1", "--acked-rounds", "1", "--window-one-events", "20", "--only", "acknowledged"],
            environment: ["TMPDIR": tmp])
        defer { p.kill() }
        // Its first broker: the journal folder exists from here on.
        try await waitFor("a bench broker runs", timeout: .seconds(60)) {
            !pids(matching: "broker --config \(tmp)metro-bench-").isEmpty
        }
        p.kill(SIGINT)
        let status = await p.waitForExit(timeout: .seconds(30))
        #expect(status != nil && status != 0)
        #expect(p.stderrText.contains("interrupted: stopped"), "\(p.stderrText)")
        try await waitFor("no bench broker left") { pids(matching: "--data-dir \(tmp)metro-bench-").isEmpty }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("metro-bench") }
        #expect(left.isEmpty, "left in the temp directory: \(left)")
    }
}
