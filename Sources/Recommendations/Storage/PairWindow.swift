public import GRDB

/// Which of a user's videos pair with which in `reco_pairs`: the co-occurrence
/// window that bounds what a view costs.
///
/// A user's videos are put in order by when each was first watched
/// (`first_watched_ms`, then video id). That order depends only on the set of
/// views, never on the order they arrive in. Two videos of the user co-occur
/// when they are at most `window` places apart in it:
///
///     dot(a, b) = Σ_u s(u, a) · s(u, b) · [ |rank_u(a) − rank_u(b)| ≤ window ]
///
/// So a change of s(u, v) touches at most 2 · window other videos (the ones
/// around v), and a user's first view of a video changes at most `window` more
/// pairs: the ones that straddled the new video's place exactly `window` apart
/// and now fall one place out. Before the window a view paired with every video
/// the user had watched, O(history) upserts per view and O(history²) per user
/// (docs/performance.md, "`recommendations.get` under a stream of views").
///
/// Every step is an exact integer change, and a pair whose dot falls to 0 is
/// deleted (each contribution is a product of positive strengths), so the
/// tables equal `rebuild`'s from-scratch answer whatever the order of events.
enum PairWindow {
    /// A video's place in its user's order.
    struct Place {
        var firstWatchedMs: Int64
        var videoId: String
    }

    /// The video at `place` is entering its user's order (its row not yet
    /// there, or not yet at `place`): the pairs that straddle the place exactly
    /// `window` apart drop out of the window.
    static func open(user: String, at place: Place, window: Int, in db: Database) throws {
        try straddling(user: user, at: place, window: window, sign: -1, in: db)
    }

    /// The video at `place` is leaving its place (its own pairs already
    /// removed): the pairs that straddle it `window` + 1 apart come back in.
    static func close(user: String, at place: Place, window: Int, in db: Database) throws {
        try straddling(user: user, at: place, window: window, sign: 1, in: db)
    }

    /// dot(v, x) and dot(x, v) change by `delta` · s(u, x) for every video x of
    /// the user within `window` places of v (v itself excluded).
    static func spread(
        _ delta: Int64, user: String, video place: Place, window: Int, in db: Database
    ) throws {
        guard delta != 0 else { return }
        for neighbour in try neighbours(user: user, of: place, count: window, before: true, in: db)
            + neighbours(user: user, of: place, count: window, before: false, in: db)
        where neighbour.strength > 0 {
            try change(place.videoId, neighbour.videoId, by: delta * neighbour.strength, in: db)
        }
    }

    /// `reco_pairs` computed from scratch from `reco_user_items`: the
    /// definition the incremental steps keep, used by the migration that
    /// introduced the window and by the tests as their oracle.
    static func rebuild(window: Int, in db: Database) throws {
        try db.execute(sql: "DELETE FROM reco_pairs")
        try db.execute(
            sql: """
                WITH ranked AS (
                    SELECT user_id, video_id, strength,
                        ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY first_watched_ms, video_id) AS r
                    FROM reco_user_items)
                INSERT INTO reco_pairs (video_a, video_b, dot)
                SELECT a.video_id, b.video_id, SUM(a.strength * b.strength)
                FROM ranked a JOIN ranked b ON b.user_id = a.user_id AND b.r != a.r AND b.r BETWEEN a.r - ? AND a.r + ?
                WHERE a.strength > 0 AND b.strength > 0
                GROUP BY a.video_id, b.video_id
                """, arguments: [window, window])
    }

    // MARK: - Steps

    private struct Neighbour {
        var videoId: String
        var strength: Int64
    }

    /// Pairs (x, y), x the a-th video before `place` and y the b-th after it,
    /// with a + b = window + 1: `window` apart without a video at `place`,
    /// `window` + 1 apart with one.
    private static func straddling(
        user: String, at place: Place, window: Int, sign: Int64, in db: Database
    ) throws {
        let before = try neighbours(user: user, of: place, count: window, before: true, in: db)
        let after = try neighbours(user: user, of: place, count: window, before: false, in: db)
        for (a, x) in before.enumerated() {
            let b = window + 1 - (a + 1)  // 1-based places on either side
            guard b >= 1, b <= after.count else { continue }
            let y = after[b - 1]
            guard x.strength > 0, y.strength > 0 else { continue }
            try change(x.videoId, y.videoId, by: sign * x.strength * y.strength, in: db)
        }
    }

    /// Up to `count` videos of the user on one side of `place` (which is
    /// excluded), nearest first. Index `reco_user_items_order`.
    private static func neighbours(
        user: String, of place: Place, count: Int, before: Bool, in db: Database
    ) throws -> [Neighbour] {
        let statement =
            before
            ? try db.cachedStatement(
                sql: """
                    SELECT video_id, strength FROM reco_user_items
                    WHERE user_id = ? AND (first_watched_ms, video_id) < (?, ?)
                    ORDER BY first_watched_ms DESC, video_id DESC LIMIT ?
                    """)
            : try db.cachedStatement(
                sql: """
                    SELECT video_id, strength FROM reco_user_items
                    WHERE user_id = ? AND (first_watched_ms, video_id) > (?, ?)
                    ORDER BY first_watched_ms, video_id LIMIT ?
                    """)
        return try Row.fetchAll(statement, arguments: [user, place.firstWatchedMs, place.videoId, count]).map {
            Neighbour(videoId: $0["video_id"], strength: $0["strength"])
        }
    }

    /// dot(a, b) and dot(b, a) change by `amount`; a pair left at 0 is deleted.
    private static func change(_ a: String, _ b: String, by amount: Int64, in db: Database) throws {
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO reco_pairs (video_a, video_b, dot) VALUES (?, ?, ?)
                ON CONFLICT (video_a, video_b) DO UPDATE SET dot = dot + excluded.dot
                """)
        try upsert.execute(arguments: [a, b, amount])
        try upsert.execute(arguments: [b, a, amount])
        guard amount < 0 else { return }
        let dropEmpty = try db.cachedStatement(
            sql: "DELETE FROM reco_pairs WHERE video_a = ? AND video_b = ? AND dot = 0")
        try dropEmpty.execute(arguments: [a, b])
        try dropEmpty.execute(arguments: [b, a])
    }
}
