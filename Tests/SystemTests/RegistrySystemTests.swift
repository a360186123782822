import Foundation
import MetroProtocol
import Testing
import ZeroMQ

/// System tests of `metro registry` (issue 5), with real processes on loopback. The
/// suites run one at a time: their timing bounds (expiry within TTL + sweep) must
/// not compete with each other for the two cores.
@Suite(.serialized) enum RegistrySystemTests {}

extension RegistrySystemTests {
    /// The registry as a foreign client sees it: raw frames on a plain REQ socket.
    @Suite struct Wire {
        @Test func documentVectorsAgainstARealRegistry() throws {
            let registry = try RegistryUnderTest()
            let context = try Context(defaultLingerMilliseconds: 0)
            let client = try RawRegistryClient(context: context, endpoint: registry.endpoint)
            defer { client.close() }
            let v = try ProtocolVectors.load(prefix: "registry.")
            func vector(_ name: String) throws -> [[UInt8]] { try #require(v[name], "\(name)") }

            #expect(try client.request(vector("registry.heartbeat.request")) == vector("registry.error.unknown-instance"))
            #expect(try client.request(vector("registry.register.request")) == vector("registry.register.reply"))
            #expect(try client.request(vector("registry.heartbeat.request")) == vector("registry.heartbeat.reply"))
            #expect(try client.request(vector("registry.lookup.request")) == vector("registry.lookup.reply"))
            let list = try RegistryReply.decode(client.request(vector("registry.list.request"))).get().result(ListResult.self).get()
            #expect(list.instances.map(\.instance) == ["profiles-1"])
            #expect(list.instances.first?.ttlMilliseconds == 5000)
            #expect(try client.request(vector("registry.deregister.request")) == vector("registry.deregister.reply"))
            #expect(try client.lookup("profiles").isEmpty)
        }

        /// Whether `python3` on the PATH has pyzmq (the example needs it).
        static let pyzmqAvailable: Bool = {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["python3", "-c", "import zmq"]
            p.standardError = FileHandle.nullDevice
            guard (try? p.run()) != nil else { return false }
            p.waitUntilExit()
            return p.terminationStatus == 0
        }()

        @Test(.enabled(if: pyzmqAvailable, "needs python3 with pyzmq"))
        func thePyzmqExampleOfSection5Runs() throws {
            let registry = try RegistryUnderTest()
            let doc = try String(contentsOf: ProtocolVectors.documentURL, encoding: .utf8)
            let section = try #require(doc.range(of: "### 5.12"))
            let start = try #require(doc.range(of: "```python\n", range: section.upperBound..<doc.endIndex))
            let end = try #require(doc.range(of: "```", range: start.upperBound..<doc.endIndex))
            let script = String(doc[start.upperBound..<end.lowerBound])
                .replacingOccurrences(of: "tcp://127.0.0.1:7400", with: registry.endpoint)
            let python = Process()
            python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            python.arguments = ["python3", "-c", script]
            let out = Pipe()
            python.standardOutput = out
            let err = Pipe()
            python.standardError = err
            try python.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            python.waitUntilExit()
            #expect(python.terminationStatus == 0, "\(String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
            #expect(text.contains("b'OK', b'{\"ttl_ms\":5000}'"))
            #expect(text.contains("profiles-1 ['tcp://10.0.0.5:7001'] {'version': '1.4.2'}"))
            #expect(text.contains("b'302'"))
        }

        @Test func metroServicesPrintsTheTableAndJSON() throws {
            let registry = try RegistryUnderTest()
            let context = try Context(defaultLingerMilliseconds: 0)
            let client = try RawRegistryClient(context: context, endpoint: registry.endpoint)
            defer { client.close() }
            let r = Registration(
                service: "profiles", instance: "p-1", epoch: 1, endpoints: ["tcp://127.0.0.1:5000"],
                metadata: ["version": "1.2"], ttlMilliseconds: 60_000)
            _ = try client.request(.register(r))

            let table = try MetroProcess(["services", "--registry", registry.endpoint])
            #expect(table.waitForExit() == 0)
            try waitFor("table") { table.stdoutLines.contains { $0.hasPrefix("1 instance") } }
            #expect(table.stdoutLines.first?.hasPrefix("SERVICE") == true)
            #expect(table.stdoutLines.contains { $0.contains("profiles") && $0.contains("p-1") && $0.contains("version=1.2") })

            let json = try MetroProcess(["services", "--registry", registry.endpoint, "--json"])
            #expect(json.waitForExit() == 0)
            try waitFor("json") { !json.stdoutLines.isEmpty }
            let decoded = try JSONDecoder().decode(ListResult.self, from: Data(json.stdoutLines[0].utf8))
            #expect(decoded.instances.map(\.instance) == ["p-1"])
        }
    }
}
