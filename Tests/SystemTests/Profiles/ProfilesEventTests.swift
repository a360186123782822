import Foundation
import GRDB
import MetroKit
import MetroProtocol
import MetroTestKit
import Profiles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `metro worker profiles` consuming `video.watched` with real processes:
/// broker, registry, worker. One serialized suite (three processes per test on
/// a 2-core box).
@Suite(.serialized) struct ProfilesEventTests {
    /// No dedupe window: two PUBLISHes with one event id are two journaled events,
    /// so the group delivers the same event id twice (what a publisher's retry
    /// after the window, or a replay, does). Heartbeats every 200 ms.
    static let brokerConfig = "heartbeatIntervalMs: 200\ndedupe:\n  windowSeconds: 0\njournal:\n  fsync: never\n"

    /// A `ServiceStack` on `brokerConfig` with one profiles worker.
    struct Stack {
        let base: ServiceStack
        let worker: ProfilesWorker

        init() async throws {
            base = try await ServiceStack(brokerConfig: ProfilesEventTests.brokerConfig)
            worker = try await base.start(ProfilesKind.self)[0]
        }

        func watched(
            _ eventID: String, user: String, video: String, at ms: Int64 = 1_000, schema: String? = nil,
            payload: String? = nil
        ) async throws {
            let body = payload ?? "{\"userId\":\"\(user)\",\"videoId\":\"\(video)\",\"watchedAtMs\":\(ms)}"
            let headers = schema.map { "{\"schema\":\"\($0)\"}" } ?? ""
            try await base.publish("video.watched", body, headers: headers, eventID: eventID)
        }

        func group() async throws -> GroupStats? { try await base.group(Profiles.group) }
    }

    /// A user straight into the worker's database (the rpc tests create theirs
    /// through rpc; here only the event path is under test). The worker runs, so
    /// this write may meet one of its own (its start's housekeeping): `write`
    /// waits for SQLite's lock instead of failing with "database is locked", as a
    /// queue without a busy timeout did in a full run (2026-12-05).
    static func seedUser(_ worker: ProfilesWorker, id: String, email: String) throws {
        try worker.write { db in
            _ = try UserStore.create(CreateProfileRequest(displayName: "Ada", email: email), id: id, nowMs: 1, in: db)
        }
    }

    @Test func theSameVideoWatchedDeliveredTwiceMakesOneHistoryEntry() async throws {
        let stack = try await Stack()
        let worker = stack.worker
        try Self.seedUser(worker, id: "u-1", email: "ada@example.com")
        try await closing(stack.base) {
            try await stack.watched("w-1", user: "u-1", video: "v-1")
            try await stack.watched("w-1", user: "u-1", video: "v-1")
            try await stack.watched("w-2", user: "u-1", video: "v-2")
            // All three journaled (the publishes were ACKed), taken (lag 0) and ACKed
            // (nothing pending): the worker has seen w-1 twice.
            try await eventually("three deliveries ACKed") {
                guard let g = try await stack.group() else { return false }
                return g.lag == 0 && g.pending == 0
            }
            #expect(try worker.historyRows("u-1") == ["v-1", "v-2"])
            #expect(try worker.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM metro_inbox") } == 2)
            worker.process.kill(SIGTERM)
            #expect(await worker.exit() == 0)
        }
    }

    @Test func anUnknownMajorSchemaIsDeadLetteredAndTheServiceKeepsServing() async throws {
        // The group's default of 5 deliveries: a rejected event goes at its first.
        let stack = try await Stack()
        let dead = try await stack.base.deadLetters("profiles")
        let worker = stack.worker
        try Self.seedUser(worker, id: "u-1", email: "ada@example.com")
        try await closing(stack.base) {
            try await stack.watched("v2-event", user: "u-1", video: "v-new", schema: "2.0")
            try await stack.watched("ghost-event", user: "ghost", video: "v-1")
            try await stack.watched("garbage", user: "", video: "", payload: "{nope")
            try await stack.watched("minor", user: "u-1", video: "v-minor", schema: "1.7")
            try await eventually("three dead letters") { dead.events.count == 3 }
            #expect(
                Set(dead.events.map { String(decoding: $0.eventID, as: UTF8.self) }) == [
                    "v2-event", "ghost-event", "garbage",
                ])
            // Each REJECTed at its first delivery, with the reason as `detail`.
            var details: [String: String] = [:]
            for letter in dead.events {
                let headers = try JSONDecoder().decode([String: String].self, from: Data(letter.headers))
                #expect(headers["group"] == "profiles" && headers["topic"] == "video.watched")
                #expect(headers["reason"] == "rejected" && headers["deliveries"] == "1")
                details[String(decoding: letter.eventID, as: UTF8.self)] = headers["detail"]
            }
            #expect(details["ghost-event"] == "no user ghost")
            #expect(details["v2-event"]?.contains("schema") == true)
            #expect(details["garbage"]?.contains("JSON") == true)
            // A newer minor of the same major is read; nothing else was stored.
            try await eventually("the 1.7 event recorded") { try worker.historyRows("u-1") == ["v-minor"] }
            try await eventually("the group drained") { try await stack.group()?.pending == 0 }
            worker.process.kill(SIGTERM)
            #expect(await worker.exit() == 0)
        }
    }
}
