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

        /// Polling mode: the instance that exists already comes first, then each
        /// change, all as the registry's membership event JSON; SIGTERM ends it with 0.
        @Test func servicesWatchPollsWithoutABroker() async throws {
            let registry = try await RegistryUnderTest()
            let context = try Context(defaultLingerMilliseconds: 0)
            let client = try RawRegistryClient(context: context, endpoint: registry.endpoint)
            defer { client.close() }
            let existing = Registration(
                service: "profiles", instance: "w-0", epoch: 1, endpoints: ["tcp://127.0.0.1:5000"],
                ttlMilliseconds: 60_000)
            _ = try await client.request(.register(existing))
            let watch = try MetroProcess([
                "services", "--registry", registry.endpoint, "--watch", "--json", "--interval-ms", "50",
            ])
            defer { watch.kill(SIGKILL) }
            func events() -> [MembershipEvent] {
                watch.stdoutLines.compactMap { try? JSONDecoder().decode(MembershipEvent.self, from: Data($0.utf8)) }
            }
            try await waitFor("the existing instance") { events().contains { $0.instance == "w-0" } }
            #expect(events().first?.kind == .registered)
            let r = Registration(
                service: "profiles", instance: "w-1", epoch: 1, endpoints: ["tcp://127.0.0.1:5000"],
                ttlMilliseconds: 60_000)
            _ = try await client.request(.register(r))
            try await waitFor("the registration") {
                events().contains { $0.instance == "w-1" && $0.kind == .registered }
            }
            _ = try await client.request(.deregister(r.key))
            try await waitFor("the deregistration") {
                events().contains { $0.instance == "w-1" && $0.kind == .deregistered }
            }
            #expect(events().count == watch.stdoutLines.count, "every line is one event: \(watch.stdoutLines)")
            watch.kill(SIGTERM)
            #expect(await watch.waitForExit(timeout: .seconds(10)) == 0)
        }

        /// Event mode prints what exists first too, in the same shape.
        @Test func servicesWatchWithEventsPrintsExistingInstancesFirst() async throws {
            let broker = try FakeBroker()
            defer { broker.stop() }
            let registry = try await RegistryUnderTest(broker: broker.publishEndpoint)
            let context = try Context(defaultLingerMilliseconds: 0)
            let client = try RawRegistryClient(context: context, endpoint: registry.endpoint)
            defer { client.close() }
            _ = try await client.request(
                .register(
                    Registration(
                        service: "profiles", instance: "old", epoch: 7, endpoints: ["tcp://127.0.0.1:5000"],
                        ttlMilliseconds: 60_000)))
            let watch = try MetroProcess([
                "services", "--registry", registry.endpoint, "--watch", "--json", "--events", broker.eventsEndpoint,
            ])
            defer { watch.kill(SIGKILL) }
            try await waitFor("the existing instance") { !watch.stdoutLines.isEmpty }
            let event = try JSONDecoder().decode(MembershipEvent.self, from: Data(watch.stdoutLines[0].utf8))
            #expect(event.kind == .registered && event.instance == "old" && event.epoch == 7)
            watch.kill(SIGINT)
            #expect(await watch.waitForExit(timeout: .seconds(10)) == 0)
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
