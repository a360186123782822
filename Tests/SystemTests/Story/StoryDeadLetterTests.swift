import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Profiles
import Testing

/// Garbage on every topic any service of the story consumes: each consuming
/// group dead-letters it at the first delivery (`$metro.dead.<group>`, events.md
/// §2), and every service goes on serving rpc and events. Real processes.
@Suite(.serialized) struct StoryDeadLetterTests {
    /// Who consumes what (spec of issue 15; docs/events.md §3).
    static let consumers: [(group: String, topics: [String])] = [
        (Profiles.group, ["video.watched"]),
        ("video-processing", ["video.uploaded"]),
        ("recommendations", ["video.processed", "video.watched", "profile.created", "profile.updated"]),
    ]
    /// Not JSON, JSON of the wrong shape, and a schema major nobody reads.
    static let garbage: [(name: String, payload: String, headers: String)] = [
        ("not-json", "{nope", ""),
        ("wrong-shape", #"{"unexpected":1}"#, ""),
        ("major-2", "{}", #"{"schema":"2.0"}"#),
    ]

    @Test func garbageOnEveryConsumedTopicIsDeadLetteredAndEveryServiceKeepsServing() async throws {
        let stack = try await ServiceStack()
        var dead: [String: LiveCollector] = [:]
        for c in Self.consumers { dead[c.group] = try await stack.deadLetters(c.group) }
        try await stack.start(ProfilesKind.self)
        try await stack.start(VideoKind.self)
        try await stack.start(RecommendationsKind.self)
        let folder = try TemporaryDirectory()
        let clipURL = folder.url.appendingPathComponent("clip.mp4")
        try await TestClip.make(clipURL)
        try await closing(stack) {
            for c in Self.consumers {
                try await eventually("\(c.group) joined") { try await stack.group(c.group)?.members ?? 0 >= 1 }
            }
            let topics = Set(Self.consumers.flatMap(\.topics)).sorted()
            for topic in topics {
                for g in Self.garbage {
                    try await stack.publish(topic, g.payload, headers: g.headers, eventID: "\(g.name)@\(topic)")
                }
            }
            for c in Self.consumers {
                let letters = try #require(dead[c.group])
                let expected = Set(c.topics.flatMap { t in Self.garbage.map { "\($0.name)@\(t)" } })
                try await eventually("\(c.group) dead-lettered its \(expected.count) garbage events") {
                    Set(letters.events.map { String(decoding: $0.eventID, as: UTF8.self) }) == expected
                }
                for letter in letters.events {
                    let headers = try JSONDecoder().decode([String: String].self, from: Data(letter.headers))
                    #expect(headers["group"] == c.group && c.topics.contains(headers["topic"] ?? ""), "\(headers)")
                    // REJECTed at the first delivery, not NAKed until max deliveries.
                    #expect(headers["reason"] == "rejected" && headers["deliveries"] == "1", "\(headers)")
                }
            }

            // Every service still serves: a user, an upload processed, a view taken
            // by profiles and recommendations, recommendations answered.
            let ada = try await stack.call(ProfilesAPI.create, StoryTests.user("Ada", tags: ["test"]))
            let bob = try await stack.call(ProfilesAPI.create, StoryTests.user("Bob"))
            let clip = try Data(contentsOf: clipURL)
            let upload = try await stack.call(
                StoryAPI.upload,
                .init(ownerId: ada.id, title: "After the garbage", tags: ["test"], data: clip.base64EncodedString()))
            let video = try #require(try await StoryTests.waitUntilProcessed(stack, [upload]).first)
            #expect(video.media?.height == 240)
            let watched = #"{"userId":"\#(ada.id)","videoId":"\#(video.videoId)","watchedAtMs":1764641520000}"#
            try await stack.publish("video.watched", watched, eventID: "good-watch")
            for c in Self.consumers {
                try await eventually("\(c.group) drained") {
                    try await stack.group(c.group).map { $0.lag == 0 && $0.pending == 0 } ?? false
                }
                let expected = c.topics.count * Self.garbage.count
                #expect(try await stack.group(c.group)?.deadLettered == UInt64(expected), "\(c.group)")
            }
            let history = try await stack.call(ProfilesAPI.history, HistoryRequest(userId: ada.id))
            #expect(history.entries.map(\.videoId) == [video.videoId])
            // video.processed is relayed after the commit `video.get` saw: wait for the model.
            try await eventually("the model holds the video and the view") {
                let stats = try await stack.call(StoryAPI.stats, .init())
                return stats.videos == 1 && stats.views == 1
            }
            let forBob = try await StoryTests.recommend(stack, bob.id)
            #expect(forBob.map(\.videoId) == [video.videoId])
            let statuses = await stack.stopWorkers()
            #expect(statuses.values.allSatisfy { $0 == 0 }, "\(statuses)")
        }
    }
}
