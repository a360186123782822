import Foundation
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

extension RegistrySystemTests {
    /// Leases, expiry and restarts with real `metro registry` and `metro announce` processes.
    @Suite struct Leases {
        static let ttl = 500
        static let heartbeat = 150
        static let sweep = 100

        func announce(
            _ registry: String, _ instance: String, port: Int, epoch: UInt64? = nil, ttl: Int = ttl,
            heartbeat: Int = heartbeat
        ) async throws -> MetroProcess {
            var args = [
                "announce", "--registry", registry, "--service", "profiles", "--instance", instance,
                "--endpoint", "tcp://127.0.0.1:\(port)", "--ttl-ms", "\(ttl)", "--heartbeat-ms", "\(heartbeat)",
                "--timeout-ms", "250",
            ]
            if let epoch { args += ["--epoch", "\(epoch)"] }
            let p = try MetroProcess(args)
            try await p.waitUntilReady()
            return p
        }

        @Test func aServiceKilledWithSIGKILLLeavesLookupWithinTTLPlusSweep() async throws {
            let registry = try await RegistryUnderTest(extra: ["--sweep-interval-ms", "\(Self.sweep)"])
            let context = try Context(defaultLingerMilliseconds: 0)
            let client = try RawRegistryClient(context: context, endpoint: registry.endpoint)
            defer { client.close() }
            let victim = try await announce(registry.endpoint, "victim", port: 5001)
            let survivor = try await announce(registry.endpoint, "survivor", port: 5002)
            #expect(try await client.lookup("profiles").map(\.instance) == ["survivor", "victim"])

            victim.kill(SIGKILL)
            let killedAt = ContinuousClock.now
            try await waitFor("the victim to leave LOOKUP", timeout: .seconds(5), interval: .milliseconds(10)) {
                try await client.lookup("profiles").map(\.instance) == ["survivor"]
            }
            let elapsed = ContinuousClock.now - killedAt
            // The bound of §5.11 (TTL + one sweep), plus slack for this shared 2-core machine.
            #expect(elapsed < .milliseconds(Self.ttl + Self.sweep + 400), "gone after \(elapsed)")
            #expect(try await client.stats().expired == 1)
            // The survivor's heartbeats kept it through several TTLs.
            #expect(try await client.lookup("profiles").map(\.instance) == ["survivor"])
            survivor.kill(SIGTERM)
            #expect(await survivor.waitForExit() == 0)
        }

        @Test func aGracefulStopDeregistersAtOnce() async throws {
            let registry = try await RegistryUnderTest()
            let context = try Context(defaultLingerMilliseconds: 0)
            let client = try RawRegistryClient(context: context, endpoint: registry.endpoint)
            defer { client.close() }
            let p = try await announce(registry.endpoint, "polite", port: 5003, ttl: 60_000, heartbeat: 20_000)
            #expect(try await client.lookup("profiles").count == 1)
            p.kill(SIGTERM)
            #expect(await p.waitForExit() == 0)
            // Deregistered, not expired: the 60 s lease did not have to run out.
            #expect(try await client.lookup("profiles").isEmpty)
            #expect(try await client.stats().expired == 0)
        }

        @Test func aRestartedRegistryHasEveryLiveInstanceBackWithinOneHeartbeat() async throws {
            var registry = try await RegistryUnderTest()
            let endpoint = registry.endpoint
            let heartbeat = 300
            var instances: [MetroProcess] = []
            for i in 1...3 {
                instances.append(
                    try await announce(endpoint, "p-\(i)", port: 5010 + i, ttl: 3000, heartbeat: heartbeat))
            }
            let context = try Context(defaultLingerMilliseconds: 0)
            do {
                let client = try RawRegistryClient(context: context, endpoint: endpoint)
                #expect(try await client.lookup("profiles").count == 3)
                client.close()
            }

            await registry.crash()
            registry = try await RegistryUnderTest(endpoint: endpoint)
            let restartedAt = ContinuousClock.now
            let client = try RawRegistryClient(context: context, endpoint: endpoint)
            defer { client.close() }
            try await waitFor("every instance back", timeout: .seconds(10), interval: .milliseconds(10)) {
                try await client.lookup("profiles").count == 3
            }
            let elapsed = ContinuousClock.now - restartedAt
            // One heartbeat interval, plus one request timeout (250 ms) for a heartbeat that
            // was in flight to the dead registry, plus slack for the shared machine.
            #expect(elapsed < .milliseconds(heartbeat + 250 + 400), "back after \(elapsed)")
            let epochs = try await client.list().map(\.epoch)
            #expect(Set(epochs).count == 3)
            for p in instances { p.kill(SIGTERM) }
            for p in instances { #expect(await p.waitForExit() == 0) }
            #expect(try await client.lookup("profiles").isEmpty)
        }

        @Test func aSecondProcessOrAStaleIncarnationIsRejected() async throws {
            let registry = try await RegistryUnderTest()
            let context = try Context(defaultLingerMilliseconds: 0)
            let client = try RawRegistryClient(context: context, endpoint: registry.endpoint)
            defer { client.close() }
            let live = try await announce(registry.endpoint, "p-1", port: 5020, epoch: 100, ttl: 1000, heartbeat: 200)

            func register(epoch: UInt64, port: Int) async throws -> WireErrorCode? {
                guard
                    case .error(let e) = try await client.request(
                        .register(
                            Registration(
                                service: "profiles", instance: "p-1", epoch: epoch,
                                endpoints: ["tcp://127.0.0.1:\(port)"],
                                ttlMilliseconds: 1000)))
                else { return nil }
                return e.code
            }
            #expect(try await register(epoch: 200, port: 6000) == .instanceConflict)
            #expect(try await register(epoch: 50, port: 6001) == .staleEpoch)
            #expect(try await client.lookup("profiles").map(\.endpoints) == [["tcp://127.0.0.1:5020"]])

            // A second `metro announce` for the same id waits (305) and takes over once the first stops.
            let second = try MetroProcess([
                "announce", "--registry", registry.endpoint, "--service", "profiles", "--instance", "p-1",
                "--endpoint", "tcp://127.0.0.1:5021", "--ttl-ms", "1000", "--heartbeat-ms", "200", "--epoch", "300",
            ])
            try await waitFor("the conflict to be counted") {
                try await client.stats().errorCount(.instanceConflict) >= 2
            }
            #expect(try await client.lookup("profiles").map(\.epoch) == [100])
            live.kill(SIGTERM)
            #expect(await live.waitForExit() == 0)
            try await second.waitUntilReady()
            #expect(try await client.lookup("profiles").map(\.endpoints) == [["tcp://127.0.0.1:5021"]])
            second.kill(SIGTERM)
            #expect(await second.waitForExit() == 0)
        }
    }
}
