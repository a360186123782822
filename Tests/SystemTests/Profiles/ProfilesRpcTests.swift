import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Profiles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `metro worker profiles` through rpc from Swift (`RpcClient`), with real
/// processes: broker, registry, worker. Serialized: three processes per test.
@Suite(.serialized) struct ProfilesRpcTests {
    /// A `ServiceStack` with one profiles worker, a collector of `profile.*`
    /// events, and calls through the registry (`ServiceStack.call`).
    struct Stack {
        let base: ServiceStack
        let worker: ProfilesWorker
        let profileEvents: LiveCollector

        init() async throws {
            base = try await ServiceStack()
            profileEvents = try await base.collect(["profile."])
            worker = try await base.start(ProfilesKind.self)[0]
        }

        func call<Request, Response>(
            _ method: RpcMethod<Request, Response>, _ request: Request, headers: RpcHeaders = .init()
        ) async throws -> Response {
            try await base.call(method, request, headers: headers)
        }

        /// The `profile.*` events seen so far: topic, decoded headers, payload.
        func events(_ topic: String) throws -> [(headers: [String: String], payload: [UInt8])] {
            try profileEvents.events.filter { $0.topic == topic }.map {
                (try JSONDecoder().decode([String: String].self, from: Data($0.headers)), $0.payload)
            }
        }
    }

    /// The wire code of a refused call, or nil if the call did not fail that way.
    static func code<T>(_ body: () async throws -> T) async -> WireErrorCode? {
        do {
            _ = try await body()
            return nil
        } catch let error as MetroClientError {
            return error.code == .rejected ? error.wireError?.code : nil
        } catch {
            return nil
        }
    }

    @Test func createGetUpdateAndHistoryRoundTrip() async throws {
        let s = try await Stack()
        try await closing(s.base) {
            let created = try await s.call(
                ProfilesAPI.create,
                CreateProfileRequest(displayName: " Ada ", email: "Ada@Example.com", favouriteTags: ["Jazz"]),
                headers: RpcHeaders(requestID: "req-create"))
            #expect(created.displayName == "Ada" && created.favouriteTags == ["jazz"] && created.version == 1)
            #expect(UUID(uuidString: created.id) != nil)
            #expect(try await s.call(ProfilesAPI.get, GetProfileRequest(id: created.id)) == created)

            let updated = try await s.call(
                ProfilesAPI.update, UpdateProfileRequest(id: created.id, version: 1, displayName: "Ada L."))
            #expect(updated.displayName == "Ada L." && updated.email == created.email && updated.version == 2)
            #expect(try await s.call(ProfilesAPI.get, GetProfileRequest(id: created.id)) == updated)

            // History: three video.watched, read back newest first one page at a time.
            for (i, ms) in [Int64(300), 100, 200].enumerated() {
                let body = "{\"userId\":\"\(created.id)\",\"videoId\":\"v-\(i)\",\"watchedAtMs\":\(ms)}"
                _ = try await s.base.publisher.publish(
                    topic: "video.watched", payload: bytes(body), eventID: bytes("w-\(i)"))
            }
            try await eventually("three history entries") { try s.worker.historyRows(created.id).count == 3 }
            var videos: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let page = try await s.call(
                    ProfilesAPI.history, HistoryRequest(userId: created.id, limit: 2, cursor: cursor))
                videos += page.entries.map(\.videoId)
                cursor = page.nextCursor
                pages += 1
            } while cursor != nil
            #expect(videos == ["v-0", "v-2", "v-1"] && pages == 2)

            // One event per committed write, through the outbox, with the schema
            // and the caller's request id.
            try await eventually("profile.created and profile.updated published") {
                try s.events("profile.created").count == 1 && s.events("profile.updated").count == 1
            }
            let createdEvent = try #require(try s.events("profile.created").first)
            #expect(createdEvent.headers == ["schema": "1.0", "requestId": "req-create"])
            let payload = try JSONDecoder().decode(ProfileCreated.self, from: Data(createdEvent.payload))
            #expect(payload.user == created)
            let updatedEvent = try #require(try s.events("profile.updated").first)
            #expect(
                try JSONDecoder().decode(ProfileUpdated.self, from: Data(updatedEvent.payload))
                    == ProfileUpdated(user: updated, changed: ["displayName"]))
            s.worker.process.kill(SIGTERM)
            #expect(await s.worker.exit() == 0)
        }
    }

    @Test func refusalsAnswerTheirCodesAndPublishNothing() async throws {
        let s = try await Stack()
        try await closing(s.base) {
            let ada = try await s.call(
                ProfilesAPI.create, CreateProfileRequest(displayName: "Ada", email: "ada@example.com"))
            let v2 = try await s.call(
                ProfilesAPI.update, UpdateProfileRequest(id: ada.id, version: 1, favouriteTags: ["x"]))
            // A stale version: 405 conflict, and the stored user is unchanged.
            #expect(
                await Self.code {
                    try await s.call(
                        ProfilesAPI.update, UpdateProfileRequest(id: ada.id, version: 1, displayName: "Eve"))
                }
                    == .conflict)
            #expect(try await s.call(ProfilesAPI.get, GetProfileRequest(id: ada.id)) == v2)
            // The same email in another case: 405.
            #expect(
                await Self.code {
                    try await s.call(
                        ProfilesAPI.create, CreateProfileRequest(displayName: "B", email: "ADA@example.com"))
                }
                    == .conflict)
            // An invalid field: 403; unknown users: 404.
            #expect(
                await Self.code {
                    try await s.call(ProfilesAPI.create, CreateProfileRequest(displayName: "B", email: "nope"))
                }
                    == .badRequest)
            #expect(
                await Self.code { try await s.call(ProfilesAPI.get, GetProfileRequest(id: "ghost")) } == .notFound)
            #expect(
                await Self.code { try await s.call(ProfilesAPI.history, HistoryRequest(userId: "ghost")) }
                    == .notFound)
            #expect(
                await Self.code {
                    try await s.call(ProfilesAPI.history, HistoryRequest(userId: ada.id, limit: 101))
                }
                    == .badRequest)

            // Exactly the two committed writes were published, and nothing is left unsent.
            #expect(try s.worker.outboxTopics() == ["profile.created", "profile.updated"])
            try await eventually("the outbox drained") { try s.worker.unsentOutbox() == 0 }
            try await eventually("two events") { s.profileEvents.events.count == 2 }
            #expect(s.profileEvents.events.map(\.topic) == ["profile.created", "profile.updated"])
            s.worker.process.kill(SIGTERM)
            #expect(await s.worker.exit() == 0)
        }
    }
}
