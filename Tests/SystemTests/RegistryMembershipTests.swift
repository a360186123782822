import Foundation
import Logging
import MetroKit
import MetroProtocol
import MetroTestKit
import ServiceLifecycle
import Synchronization
import Testing
import ZeroMQ

extension RegistrySystemTests {
    /// Membership events through a stand-in broker (XSUB in, XPUB out), the lookup cache
    /// that follows them, and `ServiceAnnouncer` as a lifecycle Service.
    @Suite struct Membership {
        static func registration(_ instance: String, service: String = "catalog", ttl: UInt64 = 10_000) -> Registration
        {
            Registration(
                service: service, instance: instance, epoch: 1, endpoints: ["tcp://127.0.0.1:7100"],
                ttlMilliseconds: ttl)
        }

        /// Waits until `client` receives events at all (PUB/SUB's slow joiner), by
        /// registering short-lived probes; returns a fresh event stream.
        static func waitForEvents(_ client: RegistryClient, writer: RegistryClient) async throws
            -> AsyncStream<MembershipEvent>.AsyncIterator
        {
            let seen = Mutex(false)
            let probes = client.membershipEvents()
            let watcher = Task {
                for await _ in probes {
                    seen.withLock { $0 = true }
                    return
                }
            }
            defer { watcher.cancel() }
            var n = 0
            try await eventually("membership events to flow through the broker", interval: .milliseconds(100)) {
                n += 1
                try await writer.register(registration("probe-\(n)", service: "probe", ttl: 100))
                return seen.withLock { $0 }
            }
            return client.membershipEvents().makeAsyncIterator()
        }

        @Test func theLookupCacheFollowsMembershipEvents() async throws {
            let broker = try FakeBroker()
            defer { broker.stop() }
            let registry = try await RegistryUnderTest(broker: broker.publishEndpoint)
            let writer = try RegistryClient(endpoints: [registry.endpoint])
            // A cache that would serve stale results for a minute unless events invalidate it.
            let reader = try RegistryClient(
                configuration: .init(
                    endpoints: [registry.endpoint], eventsEndpoint: broker.eventsEndpoint, cacheMaxAge: .seconds(60)))
            _ = try await Self.waitForEvents(reader, writer: writer)

            #expect(try await reader.lookup("catalog").isEmpty)
            try await writer.register(Self.registration("c-1"))
            try await eventually("the cache to see c-1") {
                try await reader.lookup("catalog").map(\.instance) == ["c-1"]
            }
            try await writer.register(Self.registration("c-2"))
            try await eventually("the cache to see c-2") { try await reader.lookup("catalog").count == 2 }
            try await writer.deregister(Self.registration("c-1").key)
            try await eventually("the cache to drop c-1") {
                try await reader.lookup("catalog").map(\.instance) == ["c-2"]
            }
            try await writer.register(Self.registration("c-3", ttl: 300))
            try await eventually("the cache to see c-3") { try await reader.lookup("catalog").count == 2 }
            // c-3 is never renewed: its `expired` event clears it from the cache.
            try await eventually("the cache to drop expired c-3") {
                try await reader.lookup("catalog").map(\.instance) == ["c-2"]
            }
            await reader.close()
            await writer.close()
        }

        @Test func membershipEventsStreamEveryKind() async throws {
            let broker = try FakeBroker()
            defer { broker.stop() }
            let registry = try await RegistryUnderTest(broker: broker.publishEndpoint)
            let writer = try RegistryClient(endpoints: [registry.endpoint])
            let reader = try RegistryClient(
                configuration: .init(endpoints: [registry.endpoint], eventsEndpoint: broker.eventsEndpoint))
            var events = try await Self.waitForEvents(reader, writer: writer)
            try await writer.register(Self.registration("e-1"))
            try await writer.deregister(Self.registration("e-1").key)
            try await writer.register(Self.registration("e-2", ttl: 200))
            var seen: [String] = []
            while seen.count < 4, let e = await events.next() {
                guard e.service == "catalog" else { continue }
                seen.append("\(e.kind.rawValue) \(e.instance)")
            }
            #expect(seen == ["registered e-1", "deregistered e-1", "registered e-2", "expired e-2"])
            await reader.close()
            await writer.close()
        }

        @Test func theAnnouncerReRegistersAfterARegistryRestartAndDeregistersOnShutdown() async throws {
            var registry = try await RegistryUnderTest()
            let endpoint = registry.endpoint
            let client = try RegistryClient(
                configuration: .init(endpoints: [endpoint], requestTimeout: .milliseconds(250)))
            let reader = try RegistryClient(
                configuration: .init(endpoints: [endpoint], requestTimeout: .milliseconds(250), cacheMaxAge: .zero))
            let r = Self.registration("a-1", ttl: 2000)
            let announcer = ServiceAnnouncer(client: client, registration: r, heartbeatInterval: .milliseconds(200))
            let group = ServiceGroup(configuration: .init(services: [announcer], logger: Logger(label: "test")))
            let running = Task { try await group.run() }

            try await eventually("registered") { try await reader.lookup("catalog").map(\.instance) == ["a-1"] }
            await registry.crash()
            registry = try await RegistryUnderTest(endpoint: endpoint)
            try await eventually("registered again after the restart", timeout: .seconds(5)) {
                (try? await reader.lookup("catalog").map(\.instance)) == ["a-1"]
            }
            await group.triggerGracefulShutdown()
            try await running.value
            #expect(try await reader.lookup("catalog").isEmpty)
            await client.close()
            await reader.close()
        }
    }
}
