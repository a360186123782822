import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Profiles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// kill -9 of `metro worker profiles` in the runtime's fault windows
/// (`METRO_FAULT_CRASH_AT`, operations.md), on the profiles service's own effects.
@Suite(.serialized) struct ProfilesCrashTests {
    static let brokerConfig = "heartbeatIntervalMs: 200\njournal:\n  fsync: never\n"

    @Test func aCrashBetweenTheUpdateCommitAndItsPublishPublishesItOnce() async throws {
        let broker = try await BrokerHarness(config: Self.brokerConfig)
        let registry = try await RegistryUnderTest()
        let updates = try await LiveCollector(events: broker.events, prefixes: ["profile.updated"])
        let worker = try await ProfilesWorker.launch(broker: broker, registry: registry.endpoint)
        try await closing(updates) {
            var rpc = try RpcClient(endpoints: [worker.rpc], service: "profiles")
            let ada = try await rpc.call(
                ProfilesAPI.create, CreateProfileRequest(displayName: "Ada", email: "ada@example.com"))
            await rpc.close()
            worker.process.kill(SIGTERM)
            #expect(await worker.exit() == 0)

            // The next outbox commit kills the process before the relay sends the row.
            try await worker.relaunch(
                instance: "profiles-2", environment: ["METRO_FAULT_CRASH_AT": "after-outbox-commit"])
            rpc = try RpcClient(endpoints: [worker.rpc], service: "profiles")
            let update = UpdateProfileRequest(id: ada.id, version: 1, displayName: "Ada L.")
            await #expect(throws: MetroClientError.self) {
                try await rpc.call(ProfilesAPI.update, update, deadline: .seconds(3))
            }
            await rpc.close()
            #expect(await worker.exit() == SIGKILL)
            #expect(await worker.process.stderrShows("SIGKILL at after-outbox-commit"))
            #expect(try worker.unsentOutbox() == 1)
            #expect(updates.events.isEmpty, "nothing was published before the crash")

            // The committed update stands; the restarted relay publishes its event once.
            try await worker.relaunch(instance: "profiles-3")
            try await eventually("the left profile.updated published") { updates.events.count == 1 }
            rpc = try RpcClient(endpoints: [worker.rpc], service: "profiles")
            let stored = try await rpc.call(ProfilesAPI.get, GetProfileRequest(id: ada.id))
            #expect(stored.displayName == "Ada L." && stored.version == 2)
            // The caller, not knowing, retries with the version it had: 405, no event.
            let retry = await ProfilesRpcTests.code { try await rpc.call(ProfilesAPI.update, update) }
            #expect(retry == .conflict)
            _ = try await rpc.call(
                ProfilesAPI.update, UpdateProfileRequest(id: ada.id, version: 2, favouriteTags: ["jazz"]))
            try await eventually("the second update published") { updates.events.count == 2 }
            try await eventually("the outbox drained") { try worker.unsentOutbox() == 0 }
            let versions = try updates.events.map {
                try JSONDecoder().decode(ProfileUpdated.self, from: Data($0.payload)).user.version
            }
            #expect(versions == [2, 3], "exactly one profile.updated per committed update")
            await rpc.close()
            worker.process.kill(SIGTERM)
            #expect(await worker.exit() == 0)
        }
    }

    @Test func aCrashBetweenTheHistoryCommitAndItsAckLeavesOneEntry() async throws {
        let broker = try await BrokerHarness(config: Self.brokerConfig)
        let registry = try await RegistryUnderTest()
        let publisher = try Publisher(.init(ingest: broker.ingest))
        let worker = try await ProfilesWorker.launch(broker: broker, registry: registry.endpoint)
        try await closing(publisher) {
            let rpc = try RpcClient(endpoints: [worker.rpc], service: "profiles")
            let ada = try await rpc.call(
                ProfilesAPI.create, CreateProfileRequest(displayName: "Ada", email: "ada@example.com"))
            await rpc.close()
            worker.process.kill(SIGTERM)
            #expect(await worker.exit() == 0)

            try await worker.relaunch(instance: "profiles-2", environment: ["METRO_FAULT_CRASH_AT": "after-commit"])
            let body = "{\"userId\":\"\(ada.id)\",\"videoId\":\"v-1\",\"watchedAtMs\":5}"
            _ = try await publisher.publish(topic: "video.watched", payload: bytes(body), eventID: bytes("w-1"))
            #expect(await worker.exit() == SIGKILL, "killed itself after the commit, before the ACK")
            #expect(try worker.historyRows(ada.id) == ["v-1"])

            // The broker redelivers w-1 to the next instance; it changes nothing.
            try await worker.relaunch(instance: "profiles-3")
            try await eventually("w-1 redelivered and ACKed") {
                guard let g = try await broker.stats().groups[Profiles.group] else { return false }
                return g.redelivered >= 1 && g.pending == 0
            }
            #expect(try worker.historyRows(ada.id) == ["v-1"])
            worker.process.kill(SIGTERM)
            #expect(await worker.exit() == 0)
        }
    }
}
