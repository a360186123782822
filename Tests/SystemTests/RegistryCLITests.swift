import Foundation
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

extension RegistrySystemTests {
    /// The `metro registry` and `metro services` commands as an operator uses them.
    @Suite struct CLI {
        @Test func theRegistryStopsCleanlyOnSIGTERM() async throws {
            let registry = try await RegistryUnderTest()
            registry.process.kill(SIGTERM)
            #expect(await registry.process.waitForExit(timeout: .seconds(5)) == 0)
        }

        @Test func aRegistryThatCannotBindExitsWithAnError() async throws {
            let first = try await RegistryUnderTest()
            let second = try MetroProcess(["registry", "--endpoint", first.endpoint])
            let status = await second.waitForExit(timeout: .seconds(10))
            #expect(status != nil && status != 0)
            #expect(second.stderrText.contains("Address already in use") || second.stderrText.contains("address"))
        }

        @Test func servicesFailsClearlyWhenNoRegistryAnswers() async throws {
            let gone = try await RegistryUnderTest()
            await gone.crash()
            let p = try MetroProcess(["services", "--registry", gone.endpoint, "--timeout-ms", "200"])
            let status = await p.waitForExit(timeout: .seconds(10))
            #expect(status != nil && status != 0)
            #expect(p.stderrText.contains("unreachable"), "\(p.stderrText)")
        }

        @Test func announceRefusedForGoodExitsWithTheRegistrysError() async throws {
            let registry = try await RegistryUnderTest()
            let p = try MetroProcess([
                "announce", "--registry", registry.endpoint, "--service", "Bad_Name", "--instance", "x",
                "--endpoint", "tcp://127.0.0.1:1",
            ])
            let status = await p.waitForExit(timeout: .seconds(10))
            #expect(status != nil && status != 0)
            #expect(p.stderrText.contains("302"), "\(p.stderrText)")
        }

        @Test func servicesWatchPollsWithoutABroker() async throws {
            let registry = try await RegistryUnderTest()
            let watch = try MetroProcess([
                "services", "--registry", registry.endpoint, "--watch", "--interval-ms", "50",
            ])
            defer { watch.kill(SIGKILL) }
            try await waitFor("the first table") { watch.stdoutLines.contains { $0.hasPrefix("0 instances") } }
            let context = try Context(defaultLingerMilliseconds: 0)
            let client = try RawRegistryClient(context: context, endpoint: registry.endpoint)
            defer { client.close() }
            let r = Registration(
                service: "profiles", instance: "w-1", epoch: 1, endpoints: ["tcp://127.0.0.1:5000"],
                ttlMilliseconds: 60_000)
            _ = try await client.request(.register(r))
            try await waitFor("the registration line") {
                watch.stdoutLines.contains { $0.hasPrefix("registered") && $0.contains("profiles/w-1") }
            }
            _ = try await client.request(.deregister(r.key))
            try await waitFor("the gone line") {
                watch.stdoutLines.contains { $0.hasPrefix("gone") && $0.contains("profiles/w-1") }
            }
        }

        @Test func servicesWatchFollowsBrokerEventsAsJSON() async throws {
            let broker = try FakeBroker()
            defer { broker.stop() }
            let registry = try await RegistryUnderTest(broker: broker.publishEndpoint)
            let watch = try MetroProcess([
                "services", "--registry", registry.endpoint, "--watch", "--json", "--events", broker.eventsEndpoint,
            ])
            defer { watch.kill(SIGKILL) }
            let context = try Context(defaultLingerMilliseconds: 0)
            let client = try RawRegistryClient(context: context, endpoint: registry.endpoint)
            defer { client.close() }
            // Register probes until the watcher's subscription has reached the registry's PUB.
            var n = 0
            try await waitFor("an event line", interval: .milliseconds(100)) {
                n += 1
                _ = try await client.request(
                    .register(
                        Registration(
                            service: "watched", instance: "w-\(n)", epoch: 1, endpoints: ["tcp://127.0.0.1:5000"],
                            ttlMilliseconds: 200)))
                return watch.stdoutLines.contains { $0.contains("\"event\":\"registered\"") }
            }
            try await waitFor("an expired line") { watch.stdoutLines.contains { $0.contains("\"event\":\"expired\"") } }
            let line = try #require(watch.stdoutLines.first { $0.contains("\"event\":\"registered\"") })
            let event = try JSONDecoder().decode(MembershipEvent.self, from: Data(line.utf8))
            #expect(event.service == "watched")
        }
    }
}
