import Foundation
import MetroTestKit
import Testing

/// Issue 17's first test: the whole story over HTTP only (no rpc, no ZeroMQ from
/// the test): users created, a real clip uploaded through `POST /v1/videos`
/// (streamed to the video service), polled until processed, viewed, and
/// recommended. Real broker, registry, profiles, video, recommendations and
/// gateway processes on loopback.
@Suite(.serialized) struct GatewayStoryTests {
    @Test func theStoryOverHTTP() async throws {
        let stack = try await ServiceStack()
        try await stack.start(ProfilesKind.self)
        try await stack.start(VideoKind.self)
        try await stack.start(RecommendationsKind.self)
        let gateway = try await GatewayUnderTest(broker: stack.broker, registry: stack.registry.endpoint)
        let folder = try TemporaryDirectory()
        let clipURL = folder.url.appendingPathComponent("clip.mp4")
        try await TestClip.make(clipURL, seconds: 2, width: 320, height: 240)
        let clip = Array(try Data(contentsOf: clipURL))
        try await closing(stack) {
            let ada = try await Self.createUser(gateway, "Ada", tags: ["sea"])
            let bob = try await Self.createUser(gateway, "Bob", tags: ["sea"])

            let lighthouse = try await Self.upload(gateway, clip, owner: ada, title: "Lighthouse", tags: "sea,nature")
            let harbour = try await Self.upload(gateway, clip, owner: bob, title: "Harbour", tags: "sea")
            for id in [lighthouse, harbour] {
                let video = try await Self.waitUntilProcessed(gateway, id)
                let media = try #require(video["media"] as? [String: Any], "\(video)")
                #expect(abs((media["durationSeconds"] as? Double ?? 0) - 2) < 0.1, "\(media)")
                #expect(media["width"] as? Int == 320 && media["height"] as? Int == 240, "\(media)")
                #expect(video["thumbnailBlobId"] is String && video["previewBlobId"] is String)
            }
            let listed = try await gateway.get("/v1/videos?owner=\(ada)&status=processed")
            #expect(listed.status == 200)
            #expect(
                (listed.json["videos"] as? [[String: Any]])?.compactMap { $0["videoId"] as? String } == [lighthouse])

            // Views: Bob watched both, Ada only the lighthouse.
            for (user, video) in [(bob, lighthouse), (bob, harbour), (ada, lighthouse)] {
                let view = try await gateway.post("/v1/videos/\(video)/views", ["userId": user, "secondsWatched": 2])
                #expect(view.status == 202, "\(view.text)")
            }
            try await eventually("Ada's history has her view", timeout: .seconds(30), interval: .milliseconds(200)) {
                let history = try await gateway.get("/v1/users/\(ada)/history")
                return (history.json["entries"] as? [Any])?.count == 1
            }
            try await eventually("Ada is offered the harbour because of the lighthouse", interval: .milliseconds(200)) {
                let reply = try await gateway.get("/v1/users/\(ada)/recommendations?limit=5")
                let items = reply.json["items"] as? [[String: Any]] ?? []
                #expect(!items.contains { $0["videoId"] as? String == lighthouse }, "watched: never offered")
                return items.first?["videoId"] as? String == harbour
                    && items.first?["reason"] as? String == "because you watched Lighthouse"
            }
        }
    }

    static func createUser(_ gateway: GatewayUnderTest, _ name: String, tags: [String]) async throws -> String {
        let reply = try await gateway.post(
            "/v1/users",
            ["displayName": name, "email": "\(name.lowercased())@example.com", "favouriteTags": tags])
        guard reply.status == 201, let id = reply.json["id"] as? String else {
            throw WaitError.unexpected("create \(name): \(reply.status) \(reply.text)")
        }
        return id
    }

    static func upload(
        _ gateway: GatewayUnderTest, _ clip: [UInt8], owner: String, title: String, tags: String
    ) async throws -> String {
        let reply = try await HTTPTestClient.send(
            gateway.address, "POST", "/v1/videos?owner=\(owner)&title=\(title)&tags=\(tags)",
            headers: ["Content-Type": "video/mp4"], body: clip)
        guard reply.status == 202, let id = reply.json["videoId"] as? String else {
            throw WaitError.unexpected("upload \(title): \(reply.status) \(reply.text)")
        }
        return id
    }

    static func waitUntilProcessed(_ gateway: GatewayUnderTest, _ id: String) async throws -> [String: Any] {
        try await eventually("video \(id) processed", timeout: .seconds(90), interval: .milliseconds(200)) {
            let reply = try await gateway.get("/v1/videos/\(id)")
            #expect(reply.status == 200 && reply.json["status"] as? String != "failed", "\(reply.text)")
            return reply.json["status"] as? String == "processed"
        }
        let reply = try await gateway.get("/v1/videos/\(id)")
        return reply.json
    }
}
