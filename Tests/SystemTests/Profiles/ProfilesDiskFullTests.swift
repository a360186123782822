import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Profiles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The profiles service's own disk runs full (the `MetroFaultInject` library, preloaded
/// into the worker, makes every write to `profiles.sqlite` and its WAL fall short, then
/// fail with ENOSPC, as a full file system does). What a caller and the event stream
/// must see: writes refused with a clear, retryable error, reads still served, events
/// neither lost nor applied twice, no event published for a write that did not commit,
/// and everything back once space is free, in the same process.
@Suite(.serialized) struct ProfilesDiskFullTests {
    @Test func aFullDiskRefusesWritesKeepsReadsAndLosesNoEvent() async throws {
        let stack = try await ProfilesEventTests.Stack()
        let worker = stack.worker
        let disk = try FaultInjection(pathFilter: "profiles.sqlite")
        try await closing(stack.base) {
            // The worker again, now with the fault library preloaded.
            worker.process.kill(SIGTERM)
            #expect(await worker.exit() == 0)
            try await stack.base.restart(
                worker, environment: try disk.environment, extra: ["--metrics", "127.0.0.1:0"])
            let metrics = try #require(worker.ready["metrics"])
            let dead = try await stack.base.deadLetters(Profiles.group)
            let created = try await stack.base.collect([ProfileTopics.created, ProfileTopics.updated])
            let rpc = try RpcClient(endpoints: [worker.rpc], service: Profiles.serviceName)
            try await closing(rpc) {
                let ada = try await rpc.call(
                    ProfilesAPI.create, CreateProfileRequest(displayName: "Ada", email: "ada@example.com"))

                disk.fillDisk(true)
                let fullSince = ContinuousClock.now
                let refused = await Self.error {
                    try await rpc.call(
                        ProfilesAPI.create, CreateProfileRequest(displayName: "Bob", email: "bob@example.com"))
                }
                let refusedUpdate = await Self.error {
                    try await rpc.call(
                        ProfilesAPI.update, UpdateProfileRequest(id: ada.id, version: 1, displayName: "Ada L."))
                }
                for e in [refused, refusedUpdate] {
                    #expect(e?.code == .rejected, "\(String(describing: e))")
                    #expect(e?.wireError?.code == .storageFailure, "\(String(describing: e?.wireError))")
                }
                #expect(await worker.process.stderrShows("faultinject: pwrite"), "\(worker.process.stderrText)")
                let read = try await rpc.call(ProfilesAPI.get, GetProfileRequest(id: ada.id))
                #expect(read.displayName == "Ada" && read.version == 1, "reads are served meanwhile")
                try await stack.watched("w-1", user: ada.id, video: "v-1")
                try await stack.watched("w-2", user: ada.id, video: "v-2")
                // Held and retried in place, 100 ms doubling to 1 s: 12 retries of the two views
                // take ~3.5 s, twice what the broker's 5 deliveries (NAKed with the
                // runtime's 100 ms doubling backoff) would last before dead-lettering.
                try await eventually("the views held through six retries each (or dead-lettered)") {
                    try await Self.storageRetries(metrics, topic: ProfileTopics.videoWatched) >= 12
                        || !dead.events.isEmpty
                }
                #expect(dead.events.isEmpty, "a full disk dead-letters nothing")
                #expect(try worker.historyRows(ada.id).isEmpty)
                #expect(try await stack.group()?.pending == 2, "both views are still held by the worker")

                disk.fillDisk(false)
                let fullFor = ContinuousClock.now - fullSince
                #expect(worker.process.isRunning, "the worker survived the full disk")
                let bob = try await rpc.call(
                    ProfilesAPI.create, CreateProfileRequest(displayName: "Bob", email: "bob@example.com"))
                let updated = try await rpc.call(
                    ProfilesAPI.update, UpdateProfileRequest(id: ada.id, version: 1, displayName: "Ada L."))
                #expect(updated.version == 2)
                try await eventually("the views applied after the disk came back") {
                    guard let g = try await stack.group() else { return false }
                    return g.pending == 0 && g.lag == 0
                }
                #expect(try worker.historyRows(ada.id).sorted() == ["v-1", "v-2"], "each view once")
                #expect(dead.events.isEmpty, "a full disk dead-letters nothing")
                #expect(try await stack.group()?.redelivered == 0, "held, never NAKed")
                let holdLines =
                    worker.process.stderrText.components(
                        separatedBy: "the storage refused the event's commit"
                    ).count - 1
                // At most one line a second (a starved full run kept the disk full ~20 s).
                let seconds = Int(fullFor.components.seconds) + 2
                #expect((1...seconds).contains(holdLines), "\(holdLines) lines in \(fullFor)")
                let refusedLines = worker.process.stderrText.components(separatedBy: "rpc write refused").count - 1
                #expect((1...2).contains(refusedLines), "two refusals, a line a second at most: \(refusedLines)")
                // One event id per committed write. The relay may send a row twice: it
                // published Ada's `profile.created` but could not mark the row sent while
                // the disk was full, so it sent it again after. A repeat carries the same
                // event id and bytes (the broker's dedupe window, off in this stack, and
                // every consumer's inbox drop it).
                try await eventually("the outbox drained") { try worker.unsentOutbox() == 0 }
                try await eventually("one event per committed write") {
                    Dictionary(grouping: created.events) { String(decoding: $0.eventID, as: UTF8.self) }.count == 3
                }
                let byID = Dictionary(grouping: created.events) { String(decoding: $0.eventID, as: UTF8.self) }
                for (_, copies) in byID {
                    #expect(Set(copies.map(\.payload)).count == 1 && Set(copies.map(\.topic)).count == 1)
                }
                let names = Set(byID.values.compactMap(\.first).map { "\($0.topic) \(Self.displayName($0.payload))" })
                #expect(
                    names == ["profile.created Ada", "profile.created Bob", "profile.updated Ada L."],
                    "no event for a write that failed")
                #expect(try worker.unsentOutbox() == 0)
                #expect(bob.displayName == "Bob")
            }
            worker.process.kill(SIGTERM)
            #expect(await worker.exit() == 0)
        }
    }

    /// SIGTERM while the worker holds events its full disk refused: the drain gives
    /// up on them after `--drain-timeout-ms`, the process exits 0, and the broker
    /// gives them to the next instance, which applies each once.
    @Test func aStopWhileEventsAreHeldLosesNone() async throws {
        let stack = try await ProfilesEventTests.Stack()
        let worker = stack.worker
        let disk = try FaultInjection(pathFilter: "profiles.sqlite")
        try await closing(stack.base) {
            try ProfilesEventTests.seedUser(worker, id: "u-1", email: "ada@example.com")
            worker.process.kill(SIGTERM)
            #expect(await worker.exit() == 0)
            try await stack.base.restart(
                worker, environment: try disk.environment,
                extra: ["--metrics", "127.0.0.1:0", "--drain-timeout-ms", "1000"])
            let metrics = try #require(worker.ready["metrics"])
            let dead = try await stack.base.deadLetters(Profiles.group)
            disk.fillDisk(true)
            for n in 1...3 { try await stack.watched("w-\(n)", user: "u-1", video: "v-\(n)") }
            try await eventually("the views held") {
                try await Self.storageRetries(metrics, topic: ProfileTopics.videoWatched) >= 3
            }
            let stopped = ContinuousClock.now
            worker.process.kill(SIGTERM)
            #expect(await worker.exit(timeout: .seconds(30)) == 0)
            #expect(ContinuousClock.now - stopped < .seconds(20), "the drain gave up after its 1 s")
            #expect(await worker.process.stderrShows("events still in flight after"))
            #expect(try worker.historyRows("u-1").isEmpty)

            disk.fillDisk(false)
            try await stack.base.restart(worker)
            try await eventually("the views applied by the next instance") {
                guard let g = try await stack.group() else { return false }
                return g.pending == 0 && g.lag == 0
            }
            #expect(try worker.historyRows("u-1").sorted() == ["v-1", "v-2", "v-3"])
            #expect(dead.events.isEmpty)
            worker.process.kill(SIGTERM)
            #expect(await worker.exit() == 0)
        }
    }

    /// `metro_service_storage_retries_total` of `topic` on the worker's /metrics (0 when absent).
    static func storageRetries(_ endpoint: String, topic: String) async throws -> Int {
        let text = try await httpGet(endpoint, path: "/metrics")
        let prefix = "metro_service_storage_retries_total{topic=\"\(topic)\"} "
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return 0 }
        return Int(line.dropFirst(prefix.count).split(separator: " ")[0]) ?? 0
    }

    /// `user.displayName` of a `profile.created` / `profile.updated` payload.
    static func displayName(_ payload: [UInt8]) -> String {
        struct Event: Decodable {
            struct User: Decodable { let displayName: String }
            let user: User
        }
        return (try? JSONDecoder().decode(Event.self, from: Data(payload)).user.displayName) ?? "?"
    }

    static func error<T>(_ body: () async throws -> T) async -> MetroClientError? {
        do {
            _ = try await body()
            return nil
        } catch let error as MetroClientError {
            return error
        } catch {
            return nil
        }
    }
}
