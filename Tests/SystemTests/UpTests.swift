import Foundation
import MetroTestKit
import Testing
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// `metro up`: the broker and the registry as supervised children.
@Suite(.serialized) struct UpTests {
    /// Free loopback endpoints for a process that must be told its ports up front.
    func freeEndpoints(_ n: Int) throws -> [String] { try TestPorts.freeEndpoints(n) }

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

    /// `metro up` on fixed free ports in a fresh folder, once both children are ready.
    func startUp() async throws -> (up: MetroProcess, data: String, registry: String, dir: TemporaryDirectory) {
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
            try await waitFor("broker and registry ready", timeout: .seconds(30)) { readyLines(up).count >= 2 }
        } catch {
            // Once seen in a full CI run and not reproduced alone: keep what `up` said.
            Issue.record("metro up not ready; stdout: \(up.stdoutLines), stderr: \(up.stderrText)")
            throw error
        }
        return (up, data, e[4], dir)
    }

    @Test func restartsAKilledChildAndStopsEverythingOnSIGTERM() async throws {
        let (up, data, registry, dir) = try await startUp()
        _ = dir
        let brokers = pids(matching: "broker --data-dir \(data)/broker")
        #expect(brokers.count == 1)
        kill(brokers[0], SIGKILL)
        // The supervisor starts a new broker, which prints its ready line again.
        try await waitFor("the broker restarted", timeout: .seconds(30)) { readyLines(up).count >= 3 }
        let restarted = pids(matching: "broker --data-dir \(data)/broker")
        #expect(restarted.count == 1 && restarted != brokers)

        up.kill(SIGTERM)
        #expect(await up.waitForExit(timeout: .seconds(20)) == 0)
        try await waitFor("children gone") { pids(matching: "--data-dir \(data)/broker").isEmpty }
        #expect(pids(matching: "registry --endpoint \(registry)").isEmpty)
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
    }
}
