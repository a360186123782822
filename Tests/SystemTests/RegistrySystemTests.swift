import Foundation
import MetroProtocol
import MetroTestKit
import MetroTestSupport
import Testing
import ZeroMQ

/// System tests of `metro registry` (issue 5), with real processes on loopback. The
/// suites run one at a time: their timing bounds (expiry within TTL + sweep) must
/// not compete with each other for the two cores.
@Suite(.serialized) enum RegistrySystemTests {}

extension RegistrySystemTests {
    /// The registry as a foreign client sees it: raw frames on a plain REQ socket.
    @Suite struct Wire {
        @Test func documentVectorsAgainstARealRegistry() async throws {
            // No warm-up: the plain LOOKUP reply (the warming one is checked below).
            let registry = try await RegistryUnderTest(extra: ["--warm-up-ms", "0"])
            let context = try Context(defaultLingerMilliseconds: 0)
            let client = try RawRegistryClient(context: context, endpoint: registry.endpoint)
            defer { client.close() }
            let v = try ProtocolVectors.load(prefix: "registry.")
            func vector(_ name: String) throws -> [[UInt8]] { try #require(v[name], "\(name)") }

            #expect(
                try await client.request(vector("registry.heartbeat.request"))
                    == vector("registry.error.unknown-instance"))
            #expect(
                try await client.request(vector("registry.register.request.negative-ttl"))
                    == vector("registry.error.ttl-out-of-range"))
            #expect(try await client.request(vector("registry.register.request")) == vector("registry.register.reply"))
            #expect(
                try await client.request(vector("registry.heartbeat.request")) == vector("registry.heartbeat.reply"))
            #expect(try await client.request(vector("registry.lookup.request")) == vector("registry.lookup.reply"))
            let list = try await RegistryReply.decode(client.request(vector("registry.list.request"))).get().result(
                ListResult.self
            ).get()
            #expect(list.instances.map(\.instance) == ["profiles-1"])
            #expect(list.instances.first?.ttlMilliseconds == 5000)
            #expect(
                try await client.request(vector("registry.deregister.request")) == vector("registry.deregister.reply"))
            #expect(try await client.lookup("profiles").isEmpty)
        }

        /// A registry that has just started says so in LOOKUP (`warming`, §5.7).
        @Test func aRegistryWarmingUpSaysSoInLookup() async throws {
            let registry = try await RegistryUnderTest()
            let context = try Context(defaultLingerMilliseconds: 0)
            let client = try RawRegistryClient(context: context, endpoint: registry.endpoint)
            defer { client.close() }
            let v = try ProtocolVectors.load(prefix: "registry.")
            func vector(_ name: String) throws -> [[UInt8]] { try #require(v[name], "\(name)") }
            #expect(try await client.request(vector("registry.register.request")) == vector("registry.register.reply"))
            #expect(
                try await client.request(vector("registry.lookup.request")) == vector("registry.lookup.reply.warming"))
        }

        /// `--metrics`: the registry's swift-metrics counters on a Prometheus endpoint.
        @Test func countersAreServedForPrometheus() async throws {
            let registry = try await RegistryUnderTest(extra: ["--metrics", "127.0.0.1:0"])
            let address = try #require(registry.ready["metrics"])
            let context = try Context(defaultLingerMilliseconds: 0)
            let client = try RawRegistryClient(context: context, endpoint: registry.endpoint)
            defer { client.close() }
            let v = try ProtocolVectors.load(prefix: "registry.")
            _ = try await client.request(try #require(v["registry.register.request"]))
            _ = try await client.request(try #require(v["registry.heartbeat.request"]))
            _ = try await client.request([Array("metro/1".utf8), Array("NOPE".utf8)])
            let text = try await httpGet(address, path: "/metrics")
            #expect(text.contains(" 200 OK\r\n"))
            #expect(text.contains("# TYPE metro_registry_requests_total counter\nmetro_registry_requests_total 3\n"))
            #expect(text.contains("metro_registry_errors_total{code=\"102\"} 1\n"))
        }

        @Test(.enabled("needs python3 with pyzmq") { await DocumentedExample.pyzmqAvailable })
        func thePyzmqExampleOfSection5Runs() async throws {
            let registry = try await RegistryUnderTest()
            let text = try await DocumentedExample.run(
                after: "### 5.12", replacing: ["tcp://127.0.0.1:7400": registry.endpoint])
            #expect(text.contains("b'OK', b'{\"ttl_ms\":5000}'"))
            #expect(text.contains("profiles-1 ['tcp://10.0.0.5:7001'] {'version': '1.4.2'}"))
            #expect(text.contains("b'302'"))
        }

        @Test func metroServicesPrintsTheTableAndJSON() async throws {
            let registry = try await RegistryUnderTest()
            let context = try Context(defaultLingerMilliseconds: 0)
            let client = try RawRegistryClient(context: context, endpoint: registry.endpoint)
            defer { client.close() }
            let r = Registration(
                service: "profiles", instance: "p-1", epoch: 1, endpoints: ["tcp://127.0.0.1:5000"],
                metadata: ["version": "1.2"], ttlMilliseconds: 60_000)
            _ = try await client.request(.register(r))

            let table = try MetroProcess(["services", "--registry", registry.endpoint])
            #expect(await table.waitForExit() == 0)
            try await waitFor("table") { table.stdoutLines.contains { $0.hasPrefix("1 instance") } }
            #expect(table.stdoutLines.first?.hasPrefix("SERVICE") == true)
            #expect(
                table.stdoutLines.contains {
                    $0.contains("profiles") && $0.contains("p-1") && $0.contains("version=1.2")
                })

            let json = try MetroProcess(["services", "--registry", registry.endpoint, "--json"])
            #expect(await json.waitForExit() == 0)
            try await waitFor("json") { !json.stdoutLines.isEmpty }
            let decoded = try JSONDecoder().decode(ListResult.self, from: Data(json.stdoutLines[0].utf8))
            #expect(decoded.instances.map(\.instance) == ["p-1"])
        }
    }
}
