import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

extension RegistrySystemTests {
    /// MetroKit's `RegistryClient` against real registries: Lazy Pirate recovery,
    /// fail-over, concurrency, and the event-following lookup cache.
    @Suite struct Client {
        static func registration(
            _ instance: String, service: String = "profiles", epoch: UInt64 = 1, ttl: UInt64 = 10_000
        ) -> Registration {
            Registration(
                service: service, instance: instance, epoch: epoch, endpoints: ["tcp://127.0.0.1:7000"],
                metadata: ["zone": "a"], ttlMilliseconds: ttl)
        }

        @Test func aRequestLostWithTheRegistryFailsCleanlyAndTheNextOneWorks() async throws {
            var registry = try await RegistryUnderTest()
            let endpoint = registry.endpoint
            let client = try RegistryClient(
                configuration: .init(
                    endpoints: [endpoint], requestTimeout: .milliseconds(300), attempts: 2))
            try await client.register(Self.registration("p-1"))

            // Freeze the registry, so requests reach it and are never answered; then kill it.
            try await registry.process.freeze()
            let started = ContinuousClock.now
            await #expect(throws: MetroClientError.self) { _ = try await client.lookup("other") }
            let elapsed = ContinuousClock.now - started
            // Lower bound: the property (2 × 300 ms). Upper bound: it did not hang (an async
            // test can wait seconds for the shared cooperative pool; docs/performance.md).
            #expect(elapsed >= .milliseconds(600) && elapsed < .seconds(15), "gave up after \(elapsed)")
            do {
                _ = try await client.list()
                Issue.record("LIST answered by a frozen registry")
            } catch {
                #expect(error.code == .unreachable)
            }
            await registry.crash()

            // A new registry on the same endpoint: the client was not left with a stuck REQ socket.
            registry = try await RegistryUnderTest(endpoint: endpoint)
            #expect(try await client.lookup("profiles").isEmpty)
            try await client.register(Self.registration("p-1"))
            #expect(try await client.list().map(\.instance) == ["p-1"])
            await client.close()
        }

        @Test func aRequestInFlightWhileTheRegistryDiesCompletesAfterItsRestart() async throws {
            var registry = try await RegistryUnderTest()
            let endpoint = registry.endpoint
            let client = try RegistryClient(
                configuration: .init(
                    endpoints: [endpoint], requestTimeout: .milliseconds(300), attempts: 100))
            #expect(try await client.lookup("profiles").isEmpty)
            // The retry budget (30 s) only has to outlast a registry restart, which on a
            // loaded 2-core CI machine has taken over the 6 s this test once allowed.
            try await registry.process.freeze()
            let pending = Task { try await client.register(Self.registration("p-2")) }
            await registry.crash()
            registry = try await RegistryUnderTest(endpoint: endpoint)
            _ = try await pending.value
            #expect(try await client.list().map(\.instance) == ["p-2"])
            await client.close()
        }

        @Test func aSecondEndpointTakesOverWhenTheFirstIsDown() async throws {
            let first = try await RegistryUnderTest()
            let second = try await RegistryUnderTest()
            let client = try RegistryClient(
                configuration: .init(
                    endpoints: [first.endpoint, second.endpoint], requestTimeout: .milliseconds(300), attempts: 3))
            await first.crash()
            try await client.register(Self.registration("p-1"))
            let context = try Context(defaultLingerMilliseconds: 0)
            let raw = try RawRegistryClient(context: context, endpoint: second.endpoint)
            defer { raw.close() }
            #expect(try await raw.list().map(\.instance) == ["p-1"])
            await client.close()
        }

        @Test func unknownInstanceAndStaleEpochReachTheCaller() async throws {
            let registry = try await RegistryUnderTest()
            let client = try RegistryClient(endpoints: [registry.endpoint])
            let r = Self.registration("p-1", epoch: 5)
            do {
                try await client.heartbeat(r.key)
                Issue.record("heartbeat of an unregistered instance succeeded")
            } catch {
                #expect(error.wireCode == .unknownInstance)
            }
            try await client.register(r)
            do {
                try await client.heartbeat(InstanceKey(service: "profiles", instance: "p-1", epoch: 4))
                Issue.record("stale heartbeat succeeded")
            } catch {
                #expect(error.wireCode == .staleEpoch)
            }
            try await client.deregister(r.key)
            try await client.deregister(r.key)  // a retried DEREGISTER is success (§5.6)
            await client.close()
        }

        @Test func aHundredInstancesRegisteringRenewingAndLeavingConcurrentlyLeaveAConsistentView() async throws {
            // A SUB socket stands in for the broker, to check the events too.
            let context = try Context(defaultLingerMilliseconds: 0)
            let sub = try context.socket(.sub)
            try sub.subscribe(Topic.registryPrefix)
            try sub.set(.receiveTimeout(milliseconds: 50))
            let brokerEndpoint = try sub.bindResolved("tcp://127.0.0.1:*")
            let registry = try await RegistryUnderTest(broker: brokerEndpoint)
            let clients = try (0..<10).map { _ in
                try RegistryClient(
                    configuration: .init(endpoints: [registry.endpoint], requestTimeout: .seconds(5)), context: context)
            }
            // PUB/SUB drops what is published before the subscription arrives: probe until events flow.
            var probe: UInt64 = 0
            try await eventually("events to reach the stand-in broker") {
                probe += 1
                try await clients[0].register(Self.registration("probe-\(probe)", service: "probe", ttl: 100))
                while let frames = try await sub.receiveOffPool() {
                    if MembershipEvent.decode(frames)?.service == "probe" { return true }
                }
                return false
            }
            try await eventually("the probe to expire") { try await clients[0].lookup("probe").isEmpty }
            while try await sub.receiveOffPool() != nil {}

            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<100 {
                    let client = clients[i % clients.count]
                    group.addTask {
                        let r = Self.registration("i-\(i)", service: "svc-\(i % 4)", epoch: UInt64(1000 + i))
                        try await client.register(r)
                        for _ in 0..<3 { try await client.heartbeat(r.key) }
                        _ = try await client.lookup(r.service)
                        if i % 2 == 0 { try await client.deregister(r.key) }
                    }
                }
                try await group.waitForAll()
            }

            let list = try await clients[0].list()
            #expect(list.count == 50)
            #expect(list.allSatisfy { Int($0.instance.dropFirst(2))! % 2 == 1 })
            #expect(list.allSatisfy { $0.epoch == 1000 + UInt64($0.instance.dropFirst(2))! })
            for s in 0..<4 {
                let raw = try RawRegistryClient(context: context, endpoint: registry.endpoint)
                let expected = list.filter { $0.service == "svc-\(s)" }.map(\.instance)
                #expect(try await raw.lookup("svc-\(s)").map(\.instance) == expected)
                raw.close()
            }
            let stats = try await clients[0].stats()
            #expect(stats.instances == 50)
            #expect(stats.errors.filter { $0.key != "dropped" }.isEmpty, "\(stats.errors)")

            var registered = Set<String>(), deregistered = Set<String>()
            try await eventually("every membership event") {
                while let frames = try await sub.receiveOffPool(), let e = MembershipEvent.decode(frames) {
                    if e.kind == .registered { registered.insert(e.instance) }
                    if e.kind == .deregistered { deregistered.insert(e.instance) }
                }
                return registered.count == 100 && deregistered.count == 50
            }
            for c in clients { await c.close() }
            sub.close()
        }
    }
}
