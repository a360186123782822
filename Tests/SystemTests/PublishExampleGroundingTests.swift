import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Profiles
import Testing

/// `metro publish --example` views name users and videos the running system
/// announced in its journal (`ExampleGrounding`). Before, `metro publish
/// video.watched --example`, the first command `metro up` suggests, named made-up
/// users, and the profiles service dead-lettered every view.
@Suite struct PublishExampleGroundingTests {
    func json(_ line: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    /// The ids come from `profile.created` and `video.processed` in the journal;
    /// stderr says what the views name, or what they lack and how to get it.
    @Test func viewsNameTheUsersAndVideosOfTheJournal() async throws {
        let broker = try await BrokerHarness()
        let endpoints = ["--ingest", broker.ingest, "--consume", broker.consume]
        let empty = try MetroProcess(["publish", "video.watched", "--example"] + endpoints)
        #expect(await empty.waitForExit() == 0, "\(empty.stderrText)")
        #expect(empty.stderrText.contains("no user in the journal yet"), "\(empty.stderrText)")
        #expect(empty.stderrText.contains("curl -X POST http://127.0.0.1:8080/v1/users"))

        for (topic, count) in [("profile.created", 3), ("video.processed", 2)] {
            let p = try MetroProcess(["publish", topic, "--example", "--count", "\(count)", "--json"] + endpoints)
            #expect(await p.waitForExit() == 0, "\(topic): \(p.stderrText)")
        }
        let announced = try await replay(broker, ["profile.created", "video.processed"])
        let users = Set(
            announced.filter { $0.topic == "profile.created" }.compactMap { event in
                ((try? json(String(decoding: event.payload, as: UTF8.self)))?["user"] as? [String: Any])?["id"]
                    as? String
            })
        let videos = Set(
            announced.filter { $0.topic == "video.processed" }.compactMap { event in
                (try? json(String(decoding: event.payload, as: UTF8.self)))?["videoId"] as? String
            })
        #expect(users.count == 3 && videos.count == 2)

        let views = try MetroProcess(["publish", "video.watched", "--example", "--count", "40", "--json"] + endpoints)
        #expect(await views.waitForExit() == 0, "\(views.stderrText)")
        #expect(
            views.stderrText.contains("views of 3 users and 2 processed videos of the journal"), "\(views.stderrText)")
        let watched = try await replay(broker, ["video.watched"]).map {
            try json(String(decoding: $0.payload, as: UTF8.self))
        }
        #expect(watched.count == 41)  // the first one, of a made-up user, and the 40
        let named = watched.dropFirst()
        #expect(named.allSatisfy { users.contains($0["userId"] as? String ?? "") }, "\(named)")
        #expect(named.allSatisfy { videos.contains($0["videoId"] as? String ?? "") }, "\(named)")
        #expect(Set(named.compactMap { $0["userId"] as? String }).count > 1, "the views are spread over the users")

        let synthetic = try MetroProcess(["publish", "video.watched", "--example", "--synthetic"] + endpoints)
        #expect(await synthetic.waitForExit() == 0, "\(synthetic.stderrText)")
        #expect(synthetic.stderrText.contains("made-up users and videos (--synthetic)"), "\(synthetic.stderrText)")
        let last = try #require(try await replay(broker, ["video.watched"]).last)
        #expect(!users.contains(try json(String(decoding: last.payload, as: UTF8.self))["userId"] as? String ?? ""))

        // Only --ingest given: the default consume endpoint may be another broker's, so nothing is read.
        let unpaired = try MetroProcess(["publish", "video.watched", "--example", "--ingest", broker.ingest])
        #expect(await unpaired.waitForExit() == 0, "\(unpaired.stderrText)")
        #expect(unpaired.stderrText.contains("no --consume endpoint"), "\(unpaired.stderrText)")
        #expect(await broker.stop() == 0)
    }

    /// The whole point, with a real profiles worker: after one user signs up, a
    /// stream of example views lands in that user's history and none is
    /// dead-lettered.
    @Test func aRealProfilesWorkerTakesEveryExampleView() async throws {
        let stack = try await ServiceStack()
        try await closing(stack) {
            _ = try await stack.start(ProfilesKind.self)
            let ada = try await stack.call(
                ProfilesAPI.create, CreateProfileRequest(displayName: "Ada", email: "ada@example.com"))
            try await eventually("profile.created is journaled") {
                try await replay(stack.broker, ["profile.created"]).count == 1
            }
            let views = try MetroProcess([
                "publish", "video.watched", "--example", "--count", "25", "--json", "--ingest", stack.broker.ingest,
                "--consume", stack.broker.consume,
            ])
            #expect(await views.waitForExit() == 0, "\(views.stderrText)")
            #expect(views.stderrText.contains("views of 1 user of the journal"), "\(views.stderrText)")
            try await eventually("the history holds the 25 views") {
                try await stack.call(ProfilesAPI.history, HistoryRequest(userId: ada.id, limit: 100)).entries.count
                    == 25
            }
            let groups = try await stack.broker.stats().groups
            #expect(groups["profiles"]?.deadLettered == 0, "\(groups)")
        }
    }

    func replay(_ broker: BrokerHarness, _ prefixes: [String]) async throws -> [LiveEvent] {
        let out = try await MetroTestKit.replay(
            on: broker.consume,
            .init(id: Array("grounding".utf8), start: .seq(0), credit: 0, prefixes: prefixes.map { Array($0.utf8) }))
        return out.events
    }
}
