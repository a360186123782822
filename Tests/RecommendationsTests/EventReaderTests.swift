import Testing

@testable import Recommendations

@Suite struct EventReaderTests {
    func read(_ topic: String, _ p: ConsumedPayload) throws(EventReader.Refusal) -> ModelEvent? {
        try EventReader.read(topic: topic, eventId: "e1", payload: p)
    }

    @Test func readsAView() throws {
        var p = ConsumedPayload()
        p.userId = "u1"
        p.videoId = "v1"
        p.watchedAtMs = 5
        p.secondsWatched = 30
        #expect(
            try read("video.watched", p)
                == .view(View(eventId: "e1", userId: "u1", videoId: "v1", watchedAtMs: 5, secondsWatched: 30)))
    }

    @Test func refusesViewsThatBreakTheRules() {
        var p = ConsumedPayload()
        p.userId = "u1"
        p.videoId = "v1"
        #expect(throws: EventReader.Refusal.self) { try read("video.watched", p) }  // no watchedAtMs
        p.watchedAtMs = -1
        #expect(throws: EventReader.Refusal.self) { try read("video.watched", p) }
        p.watchedAtMs = 1
        p.userId = "has space"
        #expect(throws: EventReader.Refusal.self) { try read("video.watched", p) }
        p.userId = String(repeating: "x", count: 129)
        #expect(throws: EventReader.Refusal.self) { try read("video.watched", p) }
    }

    @Test func readsACatalogueEntryWithNormalisedTags() throws {
        var p = ConsumedPayload()
        p.videoId = "v1"
        p.title = "Lighthouse"
        p.tags = [" Jazz", "jazz", "Live"]
        p.media = .init(durationSeconds: 2.5)
        p.processedAtMs = 7
        #expect(
            try read("video.processed", p)
                == .video(
                    CatalogueVideo(
                        videoId: "v1", title: "Lighthouse", tags: ["jazz", "live"], durationMs: 2500, processedAtMs: 7,
                        eventId: "e1")))
        p.media = nil
        #expect(throws: EventReader.Refusal.self) { try read("video.processed", p) }
    }

    @Test func readsProfilesAndIgnoresOtherTopics() throws {
        var p = ConsumedPayload()
        p.user = .init(id: "u1", favouriteTags: ["jazz"], version: 3)
        #expect(
            try read("profile.updated", p)
                == .profile(ProfileTags(userId: "u1", favouriteTags: ["jazz"], version: 3, eventId: "e1")))
        p.user?.version = 0
        #expect(throws: EventReader.Refusal.self) { try read("profile.created", p) }
        #expect(try read("video.watchedX", ConsumedPayload()) == nil)
    }
}
