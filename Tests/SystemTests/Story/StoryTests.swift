import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Profiles
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 15's story with real processes on loopback (docs/services.md, "The
/// story, end to end", walks through the same steps): broker, registry,
/// profiles, two video workers and recommendations; users made through rpc; a
/// real clip uploaded, processed by ffmpeg, viewed, and recommended. Serialized:
/// six processes per test on a 2-core box.
@Suite(.serialized) struct StoryTests {
    /// Step 1: the whole cast on one `ServiceStack`.
    static func cast() async throws -> ServiceStack {
        let stack = try await ServiceStack()
        try await stack.start(ProfilesKind.self)
        try await stack.start(VideoKind.self, count: 2)
        try await stack.start(RecommendationsKind.self)
        return stack
    }

    @Test func aClipUploadedIsProcessedViewedAndRecommended() async throws {
        let stack = try await Self.cast()
        let folder = try TemporaryDirectory()
        let clipURL = folder.url.appendingPathComponent("clip.mp4")
        try await TestClip.make(clipURL, seconds: 2, width: 320, height: 240)
        let clip = try Data(contentsOf: clipURL)
        let outcomes = try await stack.collect(["video.processed", "video.failed"])
        try await closing(stack) {
            // 2. Users, through rpc (profiles publishes profile.created for each).
            let ada = try await stack.call(ProfilesAPI.create, Self.user("Ada", tags: ["nature"]))
            let bob = try await stack.call(ProfilesAPI.create, Self.user("Bob", tags: ["nature"]))
            let cy = try await stack.call(ProfilesAPI.create, Self.user("Cy"))
            let dee = try await stack.call(ProfilesAPI.create, Self.user("Dee", tags: ["sea"]))

            // 3. The clip, in chunks (the gateway's way), then three more in one call each.
            let lighthouse = try await Self.uploadInChunks(stack, clip, owner: ada.id, "Lighthouse", ["sea", "nature"])
            #expect(lighthouse.status == "uploaded" && lighthouse.sizeBytes == clip.count)
            #expect(lighthouse.sourceBlobId == (try await TestClip.sha256(clipURL)), "content-addressed")
            var uploads = [lighthouse]
            for (title, tags) in [("Harbour", ["sea"]), ("Forest", ["nature"]), ("City", ["urban"])] {
                uploads.append(
                    try await stack.call(
                        StoryAPI.upload,
                        .init(
                            ownerId: bob.id, title: title, tags: tags, contentType: "video/mp4",
                            data: clip.base64EncodedString())))
            }
            let (harbour, ids) = (uploads[1], Set(uploads.map(\.videoId)))

            // 4. Processed by one of the two workers: ffprobe's metadata, a JPEG
            // thumbnail and a 240p preview in the shared blob store.
            let processed = try await Self.waitUntilProcessed(stack, uploads)
            let blobs = stack.workers(VideoKind.self)[0].data.url.appendingPathComponent("video/blobs")
            func blob(_ id: String) -> URL {
                blobs.appendingPathComponent(String(id.prefix(2))).appendingPathComponent(id)
            }
            for video in processed {
                let media = try #require(video.media)
                #expect(abs(media.durationSeconds - 2) < 0.1, "\(media)")
                #expect(media.width == 320 && media.height == 240, "\(media)")
                #expect(media.videoCodec == "h264" && media.audioCodec == "aac", "\(media)")
                #expect(try Data(contentsOf: blob(video.sourceBlobId)) == clip)
                let thumbnail = try Data(contentsOf: blob(try #require(video.thumbnailBlobId)))
                #expect(thumbnail.starts(with: [0xFF, 0xD8, 0xFF]), "a JPEG")
                #expect(try await TestClip.dimensions(blob(try #require(video.previewBlobId))).height == 240)
            }
            // Exactly one video.processed per upload, none failed. (The relay publishes
            // them after the inbox commits: wait for the four, then for the group.)
            try await eventually("four outcomes published") { outcomes.events.count >= 4 }
            try await eventually("the video group drained") {
                try await stack.group("video-processing").map { $0.lag == 0 && $0.pending == 0 } ?? false
            }
            let outcomeIDs = try outcomes.events.map { e in
                #expect(e.topic == "video.processed")
                return try JSONDecoder().decode(StoryAPI.VideoID.self, from: Data(e.payload)).videoId
            }
            #expect(outcomeIDs.count == 4 && Set(outcomeIDs) == ids, "\(outcomeIDs)")

            // 5. Views: Ada and Bob watched Lighthouse and Harbour, Cy only Lighthouse.
            let views = [(ada, lighthouse), (ada, harbour), (bob, lighthouse), (bob, harbour), (cy, lighthouse)]
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            for (i, (user, video)) in views.enumerated() {
                let payload = """
                    {"secondsWatched":2,"userId":"\(user.id)","videoId":"\(video.videoId)","watchedAtMs":\(now + Int64(i))}
                    """
                try await stack.publish("video.watched", payload, eventID: "watch-\(i)")
            }
            for group in ["recommendations", Profiles.group] {
                try await eventually("group \(group) drained") {
                    try await stack.group(group).map { $0.lag == 0 && $0.pending == 0 } ?? false
                }
            }
            let stats = try await stack.call(StoryAPI.stats, .init())
            #expect(stats.videos == 4 && stats.views == views.count, "\(stats)")
            #expect(try await stack.call(ProfilesAPI.history, HistoryRequest(userId: ada.id)).entries.count == 2)

            // 6. Recommendations reflect the views and leave out what each user watched.
            let forCy = try await Self.recommend(stack, cy.id)
            #expect(forCy.first?.videoId == harbour.videoId, "Harbour: watched with Lighthouse \(forCy)")
            #expect(forCy.first?.reason == "because you watched Lighthouse")
            #expect(!forCy.contains { $0.videoId == lighthouse.videoId })
            for user in [ada, bob] {
                let items = try await Self.recommend(stack, user.id)
                #expect(!items.isEmpty)
                #expect(Set(items.map(\.videoId)).isDisjoint(with: [lighthouse.videoId, harbour.videoId]), "\(items)")
            }
            // Dee watched nothing: the popular videos of her favourite tag.
            let forDee = try await Self.recommend(stack, dee.id)
            #expect(forDee.prefix(2).map(\.videoId) == [lighthouse.videoId, harbour.videoId], "\(forDee)")
            #expect(forDee.first?.reason == "popular in sea")

            let statuses = await stack.stopWorkers()
            #expect(statuses.values.allSatisfy { $0 == 0 }, "\(statuses)")
        }
    }

    static func user(_ name: String, tags: [String]? = nil) -> CreateProfileRequest {
        CreateProfileRequest(displayName: name, email: "\(name.lowercased())@example.com", favouriteTags: tags)
    }

    /// `video.upload.begin`, chunks of at most 16 KiB (so a clip takes several), `finish`.
    static func uploadInChunks(
        _ stack: ServiceStack, _ bytes: Data, owner: String, _ title: String, _ tags: [String]
    ) async throws -> StoryAPI.Video {
        let begun = try await stack.call(
            StoryAPI.begin,
            .init(ownerId: owner, title: title, tags: tags, contentType: "video/mp4", sizeBytes: bytes.count))
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + min(16 * 1024, begun.maxChunkBytes), bytes.count)
            let chunk = bytes.subdata(in: offset..<end).base64EncodedString()
            let received = try await stack.call(
                StoryAPI.chunk, .init(uploadId: begun.uploadId, offset: offset, data: chunk))
            #expect(received.receivedBytes == end)
            offset = end
        }
        return try await stack.call(StoryAPI.finish, .init(uploadId: begun.uploadId))
    }

    /// Polls `video.get` until every upload is `processed`; a `failed` one ends the wait.
    static func waitUntilProcessed(_ stack: ServiceStack, _ uploads: [StoryAPI.Video]) async throws
        -> [StoryAPI.Video]
    {
        var done: [String: StoryAPI.Video] = [:]
        try await eventually("\(uploads.count) videos processed", timeout: .seconds(120), interval: .milliseconds(200))
        {
            for upload in uploads where done[upload.videoId] == nil {
                let video = try await stack.call(StoryAPI.get, .init(videoId: upload.videoId))
                if video.status == "failed" {
                    throw WaitError.unexpected("\(video.title) failed: \(video.failureReason ?? "")")
                }
                if video.status == "processed" { done[upload.videoId] = video }
            }
            return done.count == uploads.count
        }
        return uploads.compactMap { done[$0.videoId] }
    }

    /// `recommendations.get` for `user`; checks the ranking is by score, highest first.
    static func recommend(_ stack: ServiceStack, _ user: String) async throws -> [StoryAPI.Item] {
        let answer = try await stack.call(StoryAPI.recommendations, .init(userId: user, limit: 10))
        #expect(answer.userId == user)
        #expect(zip(answer.items, answer.items.dropFirst()).allSatisfy { $0.score >= $1.score }, "\(answer.items)")
        return answer.items
    }
}
