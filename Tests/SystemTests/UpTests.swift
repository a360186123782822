import Foundation
import MetroTestKit
import Synchronization
import Testing
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// `metro up`: the broker and the registry as supervised children.
@Suite(.serialized) struct UpTests {
    /// Free loopback endpoints for a process that must be told its ports up front.
    /// Not "bind port 0 and release it": another test binding `:*` at the same
    /// moment can be handed the released port (seen once: `metro up` never got
    /// ready). Ports below the kernel's ephemeral range (32768-60999 here) are
    /// never handed out by a port-0 bind, so they come from there: a block per
    /// process (by pid) and a counter within it, each checked bindable first.
    func freeEndpoints(_ n: Int) throws -> [String] {
        let ctx = try Context(defaultLingerMilliseconds: 0)
        var found: [String] = []
        while found.count < n {
            let port = TestPorts.next()
            let endpoint = "tcp://127.0.0.1:\(port)"
            let s = try ctx.socket(.rep)
            if (try? s.bind(endpoint)) != nil { found.append(endpoint) }
            s.close()
        }
        // `ctx` terminates when it goes out of scope: zmq_ctx_term waits for the I/O
        // thread to close the listeners (closing is asynchronous, docs/performance.md).
        return found
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

/// Ports for tests that need fixed ones: 20000-31999, 40 per process by pid, so
/// parallel test processes and ephemeral (port 0) binds never meet.
enum TestPorts {
    private static let counter = Mutex(0)

    static func next() -> Int {
        let base = 20_000 + Int(getpid() % 300) * 40
        return counter.withLock { n in
            defer { n += 1 }
            return base + n % 40
        }
    }
}
