import Foundation
import Testing
import ZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// `metro up`: the broker and the registry as supervised children.
@Suite(.serialized) struct UpTests {
    /// Free loopback endpoints, found by binding port 0 and releasing it.
    func freeEndpoints(_ n: Int) throws -> [String] {
        let ctx = try Context(defaultLingerMilliseconds: 0)
        return try (0..<n).map { _ in
            let s = try ctx.socket(.rep)
            let e = try s.bindResolved("tcp://127.0.0.1:*")
            try s.unbind(e)
            return e
        }
    }

    func readyLines(_ p: MetroProcess) -> [String] { p.stdoutLines.filter { $0.hasPrefix("ready ") } }

    /// The pids of running processes whose command line contains `needle`.
    func pids(matching needle: String) -> [Int32] {
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return procs.compactMap { Int32($0) }.filter { pid in
            guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let cmd = String(decoding: raw.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return cmd.contains(needle)
        }
    }

    @Test func restartsAKilledChildAndStopsEverythingOnSIGTERM() throws {
        let dir = try TemporaryDirectory()
        let e = try freeEndpoints(6)
        let config = dir.url.appendingPathComponent("broker.yaml").path
        try """
            endpoints:
              ingest: \(e[0])
              publish: \(e[1])
              events: \(e[2])
              consume: \(e[3])
              metrics: ""
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let data = dir.url.appendingPathComponent("data").path
        let up = try MetroProcess(["up", "--data-dir", data, "--config", config, "--registry", e[4]])
        do {
            try waitFor("broker and registry ready", timeout: .seconds(30)) { readyLines(up).count >= 2 }
        } catch {
            // Once seen in a full CI run and not reproduced alone: keep what `up` said.
            Issue.record("metro up not ready; stdout: \(up.stdoutLines), stderr: \(up.stderrText)")
            throw error
        }

        let brokers = pids(matching: "broker --data-dir \(data)/broker")
        #expect(brokers.count == 1)
        kill(brokers[0], SIGKILL)
        // The supervisor starts a new broker, which prints its ready line again.
        try waitFor("the broker restarted", timeout: .seconds(30)) { readyLines(up).count >= 3 }
        let restarted = pids(matching: "broker --data-dir \(data)/broker")
        #expect(restarted.count == 1 && restarted != brokers)

        up.kill(SIGTERM)
        #expect(up.waitForExit(timeout: .seconds(20)) == 0)
        try waitFor("children gone") { pids(matching: "--data-dir \(data)/broker").isEmpty }
        #expect(pids(matching: "registry --endpoint \(e[4])").isEmpty)
    }
}
