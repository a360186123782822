import Foundation
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

/// `metro doctor` and Metro's own ports: the metrics and registry ports are
/// checked too, and a port held by a running Metro is told apart from one taken
/// by something else.
@Suite struct DoctorPortTests {
    func doctor(_ args: [String]) async throws -> (Int32?, [String: [String: Any]]) {
        let p = try MetroProcess(["doctor", "--json"] + args)
        let status = try await p.finished()
        guard p.stdoutLines.last == "]" else {
            throw WaitError.unexpected(
                "doctor's JSON (status \(status)):\n\(p.stdoutLines.joined(separator: "\n"))\n\(p.stderrText)")
        }
        let data = Data(p.stdoutLines.joined(separator: "\n").utf8)
        let checks = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        return (status, Dictionary(uniqueKeysWithValues: checks.map { ($0["name"] as! String, $0) }))
    }

    func config(_ dir: TemporaryDirectory, _ endpoints: [String: String]) throws -> String {
        let path = dir.url.appendingPathComponent("broker.yaml").path
        let lines = endpoints.sorted { $0.key < $1.key }.map { "  \($0.key): \"\($0.value)\"" }
        try (["endpoints:"] + lines + ["dataDir: \(dir.path)/data"]).joined(separator: "\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// While a broker and a registry run on the configured ports, every port check
    /// passes with a warning that names the running Metro.
    @Test func portsHeldByARunningMetroOnlyWarn() async throws {
        let broker = try await BrokerHarness()
        let registry = try await RegistryUnderTest()
        let dir = try TemporaryDirectory()
        let metrics = try #require(broker.endpoints["metrics"])
        let path = try config(
            dir,
            [
                "ingest": broker.ingest, "publish": broker.publish, "events": broker.events,
                "consume": broker.consume, "metrics": metrics,
            ])
        let (status, checks) = try await doctor(["--config", path, "--registry", registry.endpoint])
        #expect(status == 0, "\(checks.values.filter { $0["ok"] as? Bool == false })")
        for name in ["ingest", "publish", "events", "consume", "metrics", "registry"] {
            let check = try #require(checks["port \(name)"], "port \(name) is checked")
            #expect(check["ok"] as? Bool == true && check["warning"] as? Bool == true, "\(check)")
            #expect((check["detail"] as? String)?.contains("running Metro") == true, "\(check)")
        }
        #expect(await broker.stop() == 0)
    }

    /// The metrics and registry ports taken by a plain socket fail, as "taken by
    /// something else", with what to change.
    @Test func metricsAndRegistryPortsTakenBySomethingElseFail() async throws {
        let ctx = try Context(defaultLingerMilliseconds: 0)
        let a = try ctx.socket(.rep)
        let b = try ctx.socket(.rep)
        let metrics = try a.bindResolved("tcp://127.0.0.1:*")
        let registry = try b.bindResolved("tcp://127.0.0.1:*")
        let free = try TestPorts.freeEndpoints(4)
        let dir = try TemporaryDirectory()
        let path = try config(
            dir,
            [
                "ingest": free[0], "publish": free[1], "events": free[2], "consume": free[3],
                "metrics": String(metrics.dropFirst("tcp://".count)),
            ])
        let (status, checks) = try await doctor(["--config", path, "--registry", registry])
        #expect(status == 1)
        let m = try #require(checks["port metrics"])
        #expect(m["ok"] as? Bool == false)
        #expect((m["detail"] as? String)?.contains("taken by something else") == true, "\(m)")
        #expect((m["detail"] as? String)?.contains("endpoints.metrics") == true, "\(m)")
        let r = try #require(checks["port registry"])
        #expect(r["ok"] as? Bool == false)
        #expect((r["detail"] as? String)?.contains("taken by something else") == true, "\(r)")
        #expect(checks["port ingest"]?["ok"] as? Bool == true)
        a.close()
        b.close()
    }
}
