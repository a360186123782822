import Foundation
import GRDB
import Testing

@testable import Recommendations

/// The model's tables through `ModelUpdate` and `ModelQueries`, in an in-memory
/// SQLite database with the service's schema.
@Suite struct ModelStorageTests {
    static func database() throws -> DatabaseQueue {
        let db = try DatabaseQueue()
        var migrator = DatabaseMigrator()
        ModelSchema.register(in: &migrator)
        try migrator.migrate(db)
        return db
    }

    static func video(_ id: String, tags: [String] = [], seconds: Int64 = 100, at: Int64 = 1, event: String? = nil)
        -> ModelEvent
    {
        .video(
            CatalogueVideo(
                videoId: id, title: "T\(id)", tags: tags, durationMs: seconds * 1000, processedAtMs: at,
                eventId: event ?? "p-\(id)-\(at)"))
    }

    static func view(
        _ user: String, _ video: String, seconds: Int64? = 100, at: Int64 = 1_767_225_600_000, id: String? = nil
    )
        -> ModelEvent
    {
        .view(
            View(
                eventId: id ?? "w-\(user)-\(video)-\(at)", userId: user, videoId: video, watchedAtMs: at,
                secondsWatched: seconds))
    }

    static func apply(_ events: [ModelEvent], to db: DatabaseQueue) throws {
        try db.write { db in for e in events { try ModelUpdate.apply(e, in: db) } }
    }

    /// Every model table, row by row, as text (popularity to 1e-9 relative).
    static func dump(_ db: DatabaseQueue) throws -> [String] {
        try db.read { db in
            var lines: [String] = []
            for (table, order) in [
                ("reco_videos", "video_id"), ("reco_video_tags", "tag, video_id"), ("reco_views", "event_id"),
                ("reco_user_items", "user_id, video_id"), ("reco_pairs", "video_a, video_b"), ("reco_users", "user_id"),
            ] {
                for row in try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY \(order)") {
                    let cells = row.columnNames.map { name -> String in
                        if name == "popularity" { return String(format: "%.9e", row[name] as Double) }
                        return "\(row[name] as DatabaseValue)"
                    }
                    lines.append("\(table): \(cells.joined(separator: " "))")
                }
            }
            return lines
        }
    }

    /// A small world: two clusters (jazz a1 a2 a3, rock b1 b2 b3), five users.
    static let world: [ModelEvent] = [
        video("a1", tags: ["jazz"]), video("a2", tags: ["jazz"]), video("a3", tags: ["jazz"]),
        video("b1", tags: ["rock"]), video("b2", tags: ["rock"]), video("b3", tags: ["rock"], seconds: 50),
        view("u1", "a1"), view("u1", "a2"), view("u2", "a1"), view("u2", "a2"), view("u2", "a3", seconds: 40),
        view("u3", "b1"), view("u3", "b2"), view("u4", "b1"), view("u4", "b3", seconds: nil),
        view("u5", "a1", seconds: 10), view("u5", "b2", seconds: 30, at: 1_767_225_700_000),
        .profile(ProfileTags(userId: "u9", favouriteTags: ["rock"], version: 1, eventId: "pr1")),
        .profile(ProfileTags(userId: "u9", favouriteTags: ["jazz"], version: 2, eventId: "pr2")),
    ]

    @Test func theStateIsTheSameInAnyOrderAndWithRepeats() throws {
        let reference = try Self.database()
        try Self.apply(Self.world, to: reference)
        var generator = SplitMix64(seed: 7)
        for _ in 0..<5 {
            var shuffled = Self.world + Self.world.prefix(6)  // redelivered events
            shuffled.shuffle(using: &generator)
            let db = try Self.database()
            try Self.apply(shuffled, to: db)
            #expect(try Self.dump(db) == Self.dump(reference))
            for user in ["u1", "u2", "u3", "u4", "u5", "u9", "nobody"] {
                let a = try db.read { try ModelQueries.recommendations(for: user, limit: 10, in: $0) }
                let b = try reference.read { try ModelQueries.recommendations(for: user, limit: 10, in: $0) }
                #expect(a == b)
            }
        }
    }

    @Test func dotProductsAndNormsAreExactSums() throws {
        let db = try Self.database()
        try Self.apply(Self.world, to: db)
        let full = Feedback.full
        let (dot, norm2, half) = try db.read { db in
            (
                try Int64.fetchOne(db, sql: "SELECT dot FROM reco_pairs WHERE video_a = 'a1' AND video_b = 'a2'"),
                try Int64.fetchOne(db, sql: "SELECT norm2 FROM reco_videos WHERE video_id = 'a1'"),
                try Int64.fetchOne(
                    db, sql: "SELECT strength FROM reco_user_items WHERE user_id = 'u4' AND video_id = 'b3'")
            )
        }
        // dot(a1, a2) = s(u1,a1)s(u1,a2) + s(u2,a1)s(u2,a2) = 2 · full²
        #expect(dot == 2 * full * full)
        // norm²(a1) = full² (u1) + full² (u2) + (0.1 full)² (u5)
        #expect(norm2 == 2 * full * full + (full / 10) * (full / 10))
        // b3 is 50 s long and u4's view had no seconds: half a view.
        #expect(half == full / 2)
    }

    @Test func recommendsWhatCoOccursAndExcludesWhatWasWatched() throws {
        let db = try Self.database()
        try Self.apply(Self.world, to: db)
        let u1 = try db.read { try ModelQueries.recommendations(for: "u1", limit: 3, in: $0) }
        #expect(u1.first?.videoId == "a3")
        #expect(u1.first?.reason.hasPrefix("because you watched T") == true)
        #expect(!u1.contains { ["a1", "a2"].contains($0.videoId) })
        let u3 = try db.read { try ModelQueries.recommendations(for: "u3", limit: 1, in: $0) }
        #expect(u3.map(\.videoId) == ["b3"])
    }

    @Test func coldStartUsesTheWinningProfileVersion() throws {
        let db = try Self.database()
        try Self.apply(Self.world, to: db)
        let ranked = try db.read { try ModelQueries.recommendations(for: "u9", limit: 6, in: $0) }
        // version 2 (jazz) beats version 1 (rock): jazz first, by popularity (a1 most viewed).
        #expect(ranked.prefix(3).map(\.videoId) == ["a1", "a2", "a3"])
        #expect(ranked[0].reason == "popular in jazz")
        let stranger = try db.read { try ModelQueries.recommendations(for: "nobody", limit: 6, in: $0) }
        #expect(stranger.map(\.reason).allSatisfy { $0 == "popular now" })
        #expect(stranger.count == 6)
    }

    @Test func aViewBeforeItsVideoCountsOnceTheVideoArrives() throws {
        let db = try Self.database()
        try Self.apply([Self.view("u1", "x", seconds: 25), Self.view("u1", "y")], to: db)
        var strength = try db.read {
            try Int64.fetchAll($0, sql: "SELECT strength FROM reco_user_items ORDER BY video_id")
        }
        #expect(strength == [0, 0])
        #expect(try db.read { try ModelQueries.recommendations(for: "u2", limit: 5, in: $0) }.isEmpty)
        try Self.apply([Self.video("x"), Self.video("y")], to: db)
        strength = try db.read { try Int64.fetchAll($0, sql: "SELECT strength FROM reco_user_items ORDER BY video_id") }
        #expect(strength == [250_000, Feedback.full])
        // A later version with another duration re-weights the view.
        try Self.apply([Self.video("x", seconds: 50, at: 2)], to: db)
        strength = try db.read { try Int64.fetchAll($0, sql: "SELECT strength FROM reco_user_items ORDER BY video_id") }
        #expect(strength == [500_000, Feedback.full])
        #expect(try db.read { try ModelQueries.seen(userId: "u1", in: $0) }.map(\.videoId) == ["x", "y"])
    }

    @Test func anOlderCatalogueVersionChangesNothing() throws {
        let db = try Self.database()
        try Self.apply([Self.video("x", seconds: 50, at: 5)], to: db)
        let before = try Self.dump(db)
        try Self.apply([Self.video("x", seconds: 10, at: 4)], to: db)
        #expect(try Self.dump(db) == before)
    }

    @Test func oneEventIdIsOneView() throws {
        let db = try Self.database()
        try Self.apply([Self.video("x"), Self.view("u1", "x", id: "same"), Self.view("u1", "x", id: "same")], to: db)
        #expect(try db.read { try ModelQueries.seen(userId: "u1", in: $0) } == [SeenVideo(videoId: "x", count: 1)])
        let stats = try db.read { try ModelQueries.stats(in: $0) }
        #expect(stats == ModelStats(videos: 1, uncataloguedVideos: 0, users: 1, profiles: 0, views: 1, pairs: 0))
    }
}
