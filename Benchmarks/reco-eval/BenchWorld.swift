import Foundation
import GRDB
import Recommendations

/// The model the bench loads before it measures: `videos` videos in `tags`
/// tag clusters (a video has its cluster's tag, and every fifth one a second
/// tag), `users` users with `viewsPerUser` views each (80% in a home cluster),
/// every tenth user with a profile. Applied with `ModelUpdate`, the handler's own
/// code, in one transaction into the service's database file.
struct BenchWorld {
    var videos = 10_000
    var users = 10_000
    var viewsPerUser = 10
    var tags = 20
    var seed: UInt64 = 7

    var startMs: Int64 { ModelParameters.standard.popularityEpochMs }

    func tag(_ n: Int) -> String { "tag\(n % tags)" }

    func videoEvent(_ v: Int) -> ModelEvent {
        let tags = v % 5 == 0 ? [tag(v), tag(v + 1)] : [tag(v)]
        return .video(
            CatalogueVideo(
                videoId: "v\(v)", title: "Video \(v)", tags: tags, durationMs: Int64(60 + v % 540) * 1000,
                processedAtMs: startMs, eventId: "bench-video-\(v)"))
    }

    /// A view by a random user: its home cluster 80% of the time, popular-first.
    func randomView(_ random: inout BenchRandom, id: String, atMs: Int64) -> View {
        let user = Int(random.next() % UInt64(users))
        let cluster = user % tags
        let perCluster = videos / tags
        let video =
            random.next() % 5 != 0
            ? cluster + tags * Int(random.skewed(perCluster))
            : Int(random.skewed(videos))
        return View(
            eventId: id, userId: "u\(user)", videoId: "v\(video)", watchedAtMs: atMs,
            secondsWatched: Int64(random.next() % 600))
    }

    /// Writes the whole world into `path` (a new file); returns the seconds it took.
    func load(into path: String) throws -> Double {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let db = try DatabaseQueue(path: path)
        var migrator = DatabaseMigrator()
        ModelSchema.register(in: &migrator)
        try migrator.migrate(db)
        let start = ContinuousClock.now
        var random = BenchRandom(seed: seed)
        try db.write { db in
            for v in 0..<videos { try ModelUpdate.apply(videoEvent(v), in: db) }
            for n in 0..<(users * viewsPerUser) {
                let view = randomView(&random, id: "bench-view-\(n)", atMs: startMs + Int64(n) * 1000)
                try ModelUpdate.apply(.view(view), in: db)
            }
            for u in stride(from: 0, to: users, by: 10) {
                try ModelUpdate.apply(
                    .profile(
                        ProfileTags(userId: "u\(u)", favouriteTags: [tag(u)], version: 1, eventId: "bench-p-\(u)")),
                    in: db)
            }
        }
        try db.close()
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

/// SplitMix64, and a skew towards small numbers (popular items first).
struct BenchRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 0..<n, P(k) falling like a square: u² · n.
    mutating func skewed(_ n: Int) -> Int {
        let u = Double(next() >> 11) / Double(1 << 53)
        return min(n - 1, Int(u * u * Double(n)))
    }
}
