import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Profiles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A profiles instance killed with SIGKILL stays in the registry for its lease, and a
/// profiles worker of another system (its own registry and database, the same
/// instance name) binds the dead one's port meanwhile. The first system's callers
/// are refused there with 408 and served by the survivor: no answer comes from the
/// other database. (A full test run once had 71 calls answered 404 this way,
/// docs/performance.md.)
@Suite(.serialized) struct ProfilesPortTakenTests {
    @Test func aDeadInstancesPortTakenByAnotherSystemAnswersNoCall() async throws {
        let broker = try await BrokerHarness(config: ProfilesLoadTests.brokerConfig)
        let registry = try await RegistryUnderTest(broker: broker.publish)
        let otherRegistry = try await RegistryUnderTest(broker: broker.publish)
        // A lease far longer than the test: the dead instance stays listed throughout.
        let lease = ["--registration-ttl-ms", "300000"]
        let a = try await ProfilesWorker.launch(
            broker: broker, registry: registry.endpoint, instance: "p-a", extra: lease)
        let b = try await ProfilesWorker.launch(
            broker: broker, registry: registry.endpoint, instance: "p-b", extra: lease, sharing: a)
        let registryClient = try RegistryClient(
            configuration: .init(endpoints: [registry.endpoint], eventsEndpoint: broker.events))
        var options = RpcClient.Options()
        options.defaultDeadline = .seconds(60)
        let rpc = try RpcClient(service: Profiles.serviceName, registry: registryClient, options: options)
        try await closing(registryClient, rpc) {
            try await eventually("both instances registered") {
                (try? await registryClient.lookup(Profiles.serviceName).count) == 2
            }
            let ada = try await rpc.call(
                ProfilesAPI.create, CreateProfileRequest(displayName: "Ada", email: "ada@example.com"))
            let port = a.rpc
            a.process.kill(SIGKILL)
            #expect(await a.exit() == SIGKILL)
            let other = try await ProfilesWorker.launch(
                broker: broker, registry: otherRegistry.endpoint, instance: "p-a",
                extra: ["--rpc-bind", port, "--metrics", "127.0.0.1:0"])
            #expect(other.rpc == port)
            #expect(try await registryClient.lookup(Profiles.serviceName).count == 2, "the dead p-a is still listed")

            // Gets until one reached the other system's worker (the client reconnects to
            // the port on its own) and was refused; every get is answered from p-b.
            var gets = 0
            try await eventually("a call to reach the other system's worker") {
                try await Self.refusedAsWrongInstance(other) >= 1
            } while: {
                let got = try await rpc.call(ProfilesAPI.get, GetProfileRequest(id: ada.id))
                #expect(got.id == ada.id && got.displayName == "Ada")
                gets += 1
            }
            // Updates are not idempotent: after a 408 the call is sent on all the same
            // (it never ran), and each one commits once.
            for version in Int64(1)...10 {
                let updated = try await rpc.call(
                    ProfilesAPI.update,
                    UpdateProfileRequest(id: ada.id, version: version, favouriteTags: ["t\(version)"]))
                #expect(updated.version == version + 1)
            }
            #expect(try await other.rpcRequests("profile.get") == 0, "no handler ran there")
            #expect(try await other.rpcRequests("profile.update") == 0)
            #expect(try await Self.refusedAsWrongInstance(other) == 1, "the endpoint is not called again")
            let stored = try await rpc.call(ProfilesAPI.get, GetProfileRequest(id: ada.id))
            #expect(stored.version == 11 && stored.favouriteTags == ["t10"], "\(gets) gets before")
            other.process.kill(SIGTERM)
            #expect(await other.exit() == 0)
            b.process.kill(SIGTERM)
            #expect(await b.exit() == 0)
        }
    }

    /// `metro_rpc_server_replies_total{code="408"}` of `worker` (0 when absent).
    static func refusedAsWrongInstance(_ worker: ProfilesWorker) async throws -> Int {
        let text = try await httpGet(worker.ready["metrics"] ?? "", path: "/metrics")
        return text.split(separator: "\n").filter {
            $0.hasPrefix("metro_rpc_server_replies_total{") && $0.contains("code=\"408\"")
        }.compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0) { $0 + Int($1) }
    }
}
