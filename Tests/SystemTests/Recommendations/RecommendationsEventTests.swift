import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Recommendations
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `metro worker recommendations` with real processes (broker, registry,
/// worker): events published to the broker change its answers. Serialized:
/// three processes per test on a 2-core box.
@Suite(.serialized) struct RecommendationsEventTests {
    @Test func viewsChangeTheAnswersAndWatchedVideosAreExcluded() async throws {
        let stack = try await RecoStack()
        try await stack.profile("ada", tags: ["jazz"])
        try await stack.processed("v-jazz-1", title: "Jazz One", tags: ["jazz"])
        try await stack.processed("v-jazz-2", title: "Jazz Two", tags: ["Jazz", "live"])
        try await stack.processed("v-rock-1", title: "Rock One", tags: ["rock"])
        try await stack.processed("v-rock-2", title: "Rock Two", tags: ["rock"])
        try await stack.processed("v-rock-3", title: "Rock Three", tags: ["rock"])
        try await eventually("the catalogue and the profile applied") {
            let s = try await stack.stats()
            return s.videos == 5 && s.profiles == 1
        }
        // Cold start: the favourite tag first.
        let cold = try await stack.get("ada")
        #expect(Set(cold.prefix(2).map(\.videoId)) == ["v-jazz-1", "v-jazz-2"])
        #expect(cold.first?.reason == "popular in jazz")

        // Two users watch rock 1 and rock 2 together; ada watches rock 1.
        for user in ["bob", "cy"] {
            try await stack.watched(user, "v-rock-1")
            try await stack.watched(user, "v-rock-2")
        }
        try await stack.watched("ada", "v-rock-1", seconds: 90)
        try await eventually("five views applied") { try await stack.stats().views == 5 }
        let warm = try await stack.get("ada")
        #expect(warm.first?.videoId == "v-rock-2")
        #expect(warm.first?.reason == "because you watched Rock One")
        #expect(!warm.contains { $0.videoId == "v-rock-1" })
        #expect(warm.count == 4)
        let seen = try await stack.rpc.call(RecommendationsAPI.seen, SeenRequest(userId: "ada"))
        #expect(seen.views == [SeenVideo(videoId: "v-rock-1", count: 1)])

        // A profile update (version 2) moves the tag affinity; version 1 again changes nothing.
        try await stack.profile("dee", tags: ["jazz"])
        try await stack.profile("dee", tags: ["rock"], version: 2)
        try await eventually("dee at version 2") { try await stack.get("dee").first?.reason == "popular in rock" }
        await stack.close()
        stack.worker.process.kill(SIGTERM)
        #expect(await stack.worker.exit() == 0)
    }

    @Test func garbageOnEachConsumedTopicIsDeadLetteredAndTheServiceKeepsAnswering() async throws {
        let stack = try await RecoStack()
        let dead = try await LiveCollector(events: stack.broker.events, prefixes: ["$metro.dead.recommendations"])
        try await closing(dead) {
            var expected: Set<String> = []
            for topic in RecommendationTopics.all {
                try await stack.publish(topic, id: "garbage-\(topic)", "{nope")
                try await stack.publish(topic, id: "major2-\(topic)", "{}", schema: "2.0")
                try await stack.publish(topic, id: "empty-\(topic)", "{}")
                expected.formUnion(["garbage-\(topic)", "major2-\(topic)", "empty-\(topic)"])
            }
            try await stack.publish(
                "video.watched", id: "negative", "{\"userId\":\"u\",\"videoId\":\"v\",\"watchedAtMs\":-5}")
            try await stack.publish(
                "video.processed", id: "float-time",
                "{\"videoId\":\"v\",\"title\":\"t\",\"media\":{\"durationSeconds\":1},\"processedAtMs\":1.5}")
            expected.formUnion(["negative", "float-time"])
            try await eventually("every bad event dead-lettered") { dead.events.count == expected.count }
            #expect(Set(dead.events.map { String(decoding: $0.eventID, as: UTF8.self) }) == expected)
            for letter in dead.events {
                let headers = try JSONDecoder().decode([String: String].self, from: Data(letter.headers))
                #expect(headers["reason"] == "rejected" && headers["deliveries"] == "1")
                #expect(headers["detail"]?.isEmpty == false)
            }
            // Still serving: a good event is applied and answered.
            try await stack.processed("v-ok", title: "Fine", tags: ["ok"])
            try await eventually("the good video applied") { try await stack.get("anyone").map(\.videoId) == ["v-ok"] }
            let stats = try await stack.stats()
            #expect(stats.videos == 1 && stats.views == 0 && stats.profiles == 0)
        }
        await stack.close()
        stack.worker.process.kill(SIGTERM)
        #expect(await stack.worker.exit() == 0)
    }
}
