import Foundation
import MetroProtocol
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
        ) throws -> MetroProcess {
            var args = [
                "announce", "--registry", registry, "--service", "profiles", "--instance", instance,
                "--endpoint", "tcp://127.0.0.1:\(port)", "--ttl-ms", "\(ttl)", "--heartbeat-ms", "\(heartbeat)",
                "--timeout-ms", "250",
            ]
            if let epoch { args += ["--epoch", "\(epoch)"] }
            let p = try MetroProcess(args)
            try p.waitUntilReady()
            return p
        }

        @Test func aServiceKilledWithSIGKILLLeavesLookupWithinTTLPlusSweep() throws {
            let registry = try RegistryUnderTest(extra: ["--sweep-interval-ms", "\(Self.sweep)"])
            let context = try Context(defaultLingerMilliseconds: 0)
            let client = try RawRegistryClient(context: context, endpoint: registry.endpoint)
            defer { client.close() }
            let victim = try announce(registry.endpoint, "victim", port: 5001)
            let survivor = try announce(registry.endpoint, "survivor", port: 5002)
            #expect(try client.lookup("profiles").map(\.instance) == ["survivor", "victim"])

            victim.kill(SIGKILL)
            let killedAt = ContinuousClock.now
            try waitFor("the victim to leave LOOKUP", timeout: .seconds(5), interval: .milliseconds(10)) {
                try client.lookup("profiles").map(\.instance) == ["survivor"]
            }
            let elapsed = ContinuousClock.now - killedAt
            // The bound of §5.11 (TTL + one sweep), plus slack for this shared 2-core machine.
            #expect(elapsed < .milliseconds(Self.ttl + Self.sweep + 400), "gone after \(elapsed)")
            #expect(try client.stats().expired == 1)
            // The survivor's heartbeats kept it through several TTLs.
            #expect(try client.lookup("profiles").map(\.instance) == ["survivor"])
            survivor.kill(SIGTERM)
            #expect(survivor.waitForExit() == 0)
        }

        @Test func aGracefulStopDeregistersAtOnce() throws {
            let registry = try RegistryUnderTest()
            let context = try Context(defaultLingerMilliseconds: 0)
            let client = try RawRegistryClient(context: context, endpoint: registry.endpoint)
            defer { client.close() }
            let p = try announce(registry.endpoint, "polite", port: 5003, ttl: 60_000, heartbeat: 20_000)
            #expect(try client.lookup("profiles").count == 1)
            p.kill(SIGTERM)
            #expect(p.waitForExit() == 0)
            // Deregistered, not expired: the 60 s lease did not have to run out.
            #expect(try client.lookup("profiles").isEmpty)
            #expect(try client.stats().expired == 0)
        }

        @Test func aRestartedRegistryHasEveryLiveInstanceBackWithinOneHeartbeat() throws {
            var registry = try RegistryUnderTest()
            let endpoint = registry.endpoint
            let heartbeat = 300
            let instances = try (1...3).map { i in
                try announce(endpoint, "p-\(i)", port: 5010 + i, ttl: 3000, heartbeat: heartbeat)
            }
            let context = try Context(defaultLingerMilliseconds: 0)
            do {
                let client = try RawRegistryClient(context: context, endpoint: endpoint)
                #expect(try client.lookup("profiles").count == 3)
                client.close()
            }

            registry.crash()
            registry = try RegistryUnderTest(endpoint: endpoint)
            let restartedAt = ContinuousClock.now
            let client = try RawRegistryClient(context: context, endpoint: endpoint)
            defer { client.close() }
            try waitFor("every instance back", timeout: .seconds(10), interval: .milliseconds(10)) {
                try client.lookup("profiles").count == 3
            }
            let elapsed = ContinuousClock.now - restartedAt
            // One heartbeat interval, plus one request timeout (250 ms) for a heartbeat that
            // was in flight to the dead registry, plus slack for the shared machine.
            #expect(elapsed < .milliseconds(heartbeat + 250 + 400), "back after \(elapsed)")
            let epochs = try client.list().map(\.epoch)
            #expect(Set(epochs).count == 3)
            for p in instances { p.kill(SIGTERM) }
            for p in instances { #expect(p.waitForExit() == 0) }
            #expect(try client.lookup("profiles").isEmpty)
        }

        @Test func aSecondProcessOrAStaleIncarnationIsRejected() throws {
            let registry = try RegistryUnderTest()
            let context = try Context(defaultLingerMilliseconds: 0)
            let client = try RawRegistryClient(context: context, endpoint: registry.endpoint)
            defer { client.close() }
            let live = try announce(registry.endpoint, "p-1", port: 5020, epoch: 100, ttl: 1000, heartbeat: 200)

            func register(epoch: UInt64, port: Int) throws -> WireErrorCode? {
                guard
                    case .error(let e) = try client.request(
                        .register(
                            Registration(
                                service: "profiles", instance: "p-1", epoch: epoch,
                                endpoints: ["tcp://127.0.0.1:\(port)"],
                                ttlMilliseconds: 1000)))
                else { return nil }
                return e.code
            }
            #expect(try register(epoch: 200, port: 6000) == .instanceConflict)
            #expect(try register(epoch: 50, port: 6001) == .staleEpoch)
            #expect(try client.lookup("profiles").map(\.endpoints) == [["tcp://127.0.0.1:5020"]])

            // A second `metro announce` for the same id waits (305) and takes over once the first stops.
            let second = try MetroProcess([
                "announce", "--registry", registry.endpoint, "--service", "profiles", "--instance", "p-1",
                "--endpoint", "tcp://127.0.0.1:5021", "--ttl-ms", "1000", "--heartbeat-ms", "200", "--epoch", "300",
            ])
            try waitFor("the conflict to be counted") { try client.stats().errorCount(.instanceConflict) >= 2 }
            #expect(try client.lookup("profiles").map(\.epoch) == [100])
            live.kill(SIGTERM)
            #expect(live.waitForExit() == 0)
            try second.waitUntilReady()
            #expect(try client.lookup("profiles").map(\.endpoints) == [["tcp://127.0.0.1:5021"]])
            second.kill(SIGTERM)
            #expect(second.waitForExit() == 0)
        }
    }
}
