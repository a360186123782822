import Foundation
import MetroKit
import MetroProtocol
import Profiles
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Two `metro worker profiles` instances on one database behind the registry,
/// called through `RpcClient(service:registry:)`.
@Suite(.serialized) struct ProfilesLoadTests {
    static let brokerConfig = "heartbeatIntervalMs: 200\njournal:\n  fsync: never\n"

    /// What the callers saw, by outcome.
    final class Outcomes: Sendable {
        private let state = Mutex((ok: 0, failed: [String](), slowest: Duration.zero))
        func record(_ result: Result<Void, MetroClientError>, took: Duration) {
            state.withLock { s in
                switch result {
                case .success: s.ok += 1
                case .failure(let e): s.failed.append("\(e.code)")
                }
                s.slowest = max(s.slowest, took)
            }
        }
        var ok: Int { state.withLock { $0.ok } }
        var failed: [String] { state.withLock { $0.failed } }
        var slowest: Duration { state.withLock { $0.slowest } }
    }

    /// Tells the callers to stop.
    final class Flag: Sendable {
        private let value = Atomic(false)
        func set() { value.store(true, ordering: .relaxed) }
        var isSet: Bool { value.load(ordering: .relaxed) }
    }

    @Test func twoInstancesShareTheLoadAndAKill9FailsNoIdempotentCall() async throws {
        let broker = try await offThePool { try BrokerHarness(config: Self.brokerConfig) }
        let registry = try await offThePool { try RegistryUnderTest(broker: broker.publish) }
        let a = try await ProfilesWorker.launch(
            broker: broker, registry: registry.endpoint, instance: "p-a", extra: ["--metrics", "127.0.0.1:0"])
        let b = try await ProfilesWorker.launch(
            broker: broker, registry: registry.endpoint, instance: "p-b", extra: ["--metrics", "127.0.0.1:0"],
            sharing: a)
        let registryClient = try RegistryClient(
            configuration: .init(endpoints: [registry.endpoint], eventsEndpoint: broker.events))
        let rpc = try RpcClient(service: Profiles.serviceName, registry: registryClient)
        try await closing(registryClient, rpc) {
            try await eventually("both instances registered") {
                (try? await registryClient.lookup(Profiles.serviceName).count) == 2
            }
            let ada = try await rpc.call(
                ProfilesAPI.create, CreateProfileRequest(displayName: "Ada", email: "ada@example.com"))

            // Four callers of profile.get (idempotent) until told to stop.
            let gets = Outcomes()
            let stop = Flag()
            let load = Task {
                await withTaskGroup(of: Void.self) { callers in
                    for _ in 0..<4 {
                        callers.addTask {
                            while !stop.isSet {
                                let start = ContinuousClock.now
                                do throws(MetroClientError) {
                                    _ = try await rpc.call(
                                        ProfilesAPI.get, GetProfileRequest(id: ada.id), deadline: .seconds(5))
                                    gets.record(.success(()), took: .now - start)
                                } catch {
                                    gets.record(.failure(error), took: .now - start)
                                }
                            }
                        }
                    }
                }
            }
            try await eventually("both instances served calls") {
                guard gets.ok >= 200 else { return false }
                return try a.rpcRequests("profile.get") > 0 && b.rpcRequests("profile.get") > 0
            }

            // kill -9 one instance mid-load, with non-idempotent updates in flight too.
            let updates = Outcomes()
            let updating = Task {
                for version in Int64(1)...20 {
                    let start = ContinuousClock.now
                    do throws(MetroClientError) {
                        _ = try await rpc.call(
                            ProfilesAPI.update,
                            UpdateProfileRequest(id: ada.id, version: version, favouriteTags: ["t\(version)"]),
                            deadline: .seconds(3))
                        updates.record(.success(()), took: .now - start)
                    } catch {
                        updates.record(.failure(error), took: .now - start)
                        return
                    }
                }
            }
            let okBeforeKill = gets.ok
            a.process.kill(SIGKILL)
            #expect(await a.exit() == SIGKILL)
            try await eventually("200 more gets after the kill") { gets.ok >= okBeforeKill + 200 }
            stop.set()
            await load.value
            await updating.value

            #expect(gets.failed.isEmpty, "an idempotent call is retried on the other instance")
            #expect(gets.slowest < .seconds(5))
            // An update either committed or failed with a code that says so, in bounded time.
            #expect(updates.ok + updates.failed.count >= 1 && updates.slowest < .seconds(4))
            #expect(updates.failed.allSatisfy { ["disconnected", "deadline-exceeded"].contains($0) })
            let stored = try await rpc.call(ProfilesAPI.get, GetProfileRequest(id: ada.id))
            #expect(stored.version >= Int64(updates.ok) + 1)
            b.process.kill(SIGTERM)
            #expect(await b.exit() == 0)
        }
    }
}
