import Foundation
public import GRDB

/// Applies one `ModelEvent` to the model's tables, inside the caller's
/// transaction (the runtime's `commit`, with the event's inbox row). What an
/// event costs:
///
/// - a view: O(1) rows for the view, the video (and its popularity copied to
///   its tags' rows) and the (user, video) sums; if
///   the strength of (user, video) changed (it stops changing once capped at a
///   full view), two `reco_pairs` rows per video within `pairWindow` places of
///   it in the user's order (`PairWindow`), so at most 4 · `pairWindow`
///   whatever the user's history; a first view of a video, up to 2 ·
///   `pairWindow` more (the pairs its place pushes out of the window);
/// - a `video.processed`: its tags, and when the duration changed (or the video
///   is new), the strength of each user who watched it, each with the same cost
///   as a view's change;
/// - a profile: one row.
///
/// Nothing is recomputed per request; see `ModelQueries` for a request's cost.
public enum ModelUpdate {
    public static func apply(_ event: ModelEvent, parameters: ModelParameters = .standard, in db: Database) throws {
        switch event {
        case .view(let view): try apply(view, parameters: parameters, in: db)
        case .video(let video): try apply(video, parameters: parameters, in: db)
        case .profile(let profile): try apply(profile, in: db)
        }
    }

    static func apply(_ view: View, parameters: ModelParameters, in db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO reco_views (event_id, user_id, video_id, watched_at_ms, seconds_watched)
                VALUES (?, ?, ?, ?, ?)
                """
        ).execute(arguments: [view.eventId, view.userId, view.videoId, view.watchedAtMs, view.secondsWatched])
        guard db.changesCount == 1 else { return }  // this view is counted already
        try db.cachedStatement(
            sql: """
                INSERT INTO reco_videos (video_id, popularity, views) VALUES (?, ?, 1)
                ON CONFLICT (video_id) DO UPDATE SET popularity = popularity + excluded.popularity, views = views + 1
                """
        ).execute(arguments: [
            view.videoId, Feedback.popularityTerm(watchedAtMs: view.watchedAtMs, parameters: parameters),
        ])
        try db.cachedStatement(
            sql: """
                UPDATE reco_video_tags SET popularity = (SELECT popularity FROM reco_videos WHERE video_id = ?1)
                WHERE video_id = ?1
                """
        ).execute(arguments: [view.videoId])
        let seconds = max(0, view.secondsWatched ?? 0)
        let withoutSeconds: Int64 = view.secondsWatched == nil ? 1 : 0
        let place = PairWindow.Place(firstWatchedMs: view.watchedAtMs, videoId: view.videoId)
        let first = try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT first_watched_ms FROM reco_user_items WHERE user_id = ? AND video_id = ?"),
            arguments: [view.userId, view.videoId])
        if let first, view.watchedAtMs < first {
            // An earlier view came late: the video moves back in its user's
            // order. Its pairs go, it leaves its place, enters the new one
            // (`open` finds it there and leaves it out), and `refreshStrength`
            // below pairs it again from strength 0.
            let old = PairWindow.Place(firstWatchedMs: first, videoId: view.videoId)
            try setStrength(0, user: view.userId, at: old, parameters: parameters, in: db)
            try PairWindow.close(user: view.userId, at: old, window: parameters.pairWindow, in: db)
            try db.cachedStatement(
                sql: "UPDATE reco_user_items SET first_watched_ms = ? WHERE user_id = ? AND video_id = ?"
            ).execute(arguments: [view.watchedAtMs, view.userId, view.videoId])
            try PairWindow.open(user: view.userId, at: place, window: parameters.pairWindow, in: db)
        } else if first == nil {
            try PairWindow.open(user: view.userId, at: place, window: parameters.pairWindow, in: db)
        }
        try db.cachedStatement(
            sql: """
                INSERT INTO reco_user_items
                    (user_id, video_id, views, seconds_sum, views_without_seconds, first_watched_ms, last_watched_ms,
                     strength)
                VALUES (?, ?, 1, ?, ?, ?, ?, 0)
                ON CONFLICT (user_id, video_id) DO UPDATE SET
                    views = views + 1, seconds_sum = seconds_sum + excluded.seconds_sum,
                    views_without_seconds = views_without_seconds + excluded.views_without_seconds,
                    first_watched_ms = min(first_watched_ms, excluded.first_watched_ms),
                    last_watched_ms = max(last_watched_ms, excluded.last_watched_ms)
                """
        ).execute(arguments: [view.userId, view.videoId, seconds, withoutSeconds, view.watchedAtMs, view.watchedAtMs])
        try refreshStrength(user: view.userId, video: view.videoId, parameters: parameters, in: db)
    }

    static func apply(_ video: CatalogueVideo, parameters: ModelParameters, in db: Database) throws {
        let current = try Row.fetchOne(
            db.cachedStatement(
                sql: "SELECT version_order, version_event, duration_ms FROM reco_videos WHERE video_id = ?"),
            arguments: [video.videoId])
        let old: (order: Int64, eventId: String)? =
            if let current, let order: Int64 = current["version_order"], let event: String = current["version_event"] {
                (order, event)
            } else { nil }
        guard VersionRule.wins((video.processedAtMs, video.eventId), over: old) else { return }
        let oldDuration: Int64? = current?["duration_ms"]
        try db.cachedStatement(
            sql: """
                INSERT INTO reco_videos (video_id, catalogued, title, tags, duration_ms, version_order, version_event)
                VALUES (?, 1, ?, ?, ?, ?, ?)
                ON CONFLICT (video_id) DO UPDATE SET catalogued = 1, title = excluded.title, tags = excluded.tags,
                    duration_ms = excluded.duration_ms, version_order = excluded.version_order,
                    version_event = excluded.version_event
                """
        ).execute(arguments: [
            video.videoId, video.title, TagList.encode(video.tags), video.durationMs, video.processedAtMs,
            video.eventId,
        ])
        try db.cachedStatement(sql: "DELETE FROM reco_video_tags WHERE video_id = ?").execute(arguments: [video.videoId]
        )
        for tag in video.tags {
            try db.cachedStatement(
                sql: """
                    INSERT OR IGNORE INTO reco_video_tags (tag, video_id, popularity)
                    VALUES (?1, ?2, (SELECT popularity FROM reco_videos WHERE video_id = ?2))
                    """
            ).execute(arguments: [tag, video.videoId])
        }
        guard oldDuration != video.durationMs else { return }
        let users = try String.fetchAll(
            db.cachedStatement(sql: "SELECT user_id FROM reco_user_items WHERE video_id = ? ORDER BY user_id"),
            arguments: [video.videoId])
        for user in users { try refreshStrength(user: user, video: video.videoId, parameters: parameters, in: db) }
    }

    static func apply(_ profile: ProfileTags, in db: Database) throws {
        let current = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT version, version_event FROM reco_users WHERE user_id = ?"),
            arguments: [profile.userId])
        let old = current.map { (order: $0["version"] as Int64, eventId: $0["version_event"] as String) }
        guard VersionRule.wins((profile.version, profile.eventId), over: old) else { return }
        try db.cachedStatement(
            sql: """
                INSERT INTO reco_users (user_id, favourite_tags, version, version_event) VALUES (?, ?, ?, ?)
                ON CONFLICT (user_id) DO UPDATE SET favourite_tags = excluded.favourite_tags,
                    version = excluded.version, version_event = excluded.version_event
                """
        ).execute(arguments: [profile.userId, TagList.encode(profile.favouriteTags), profile.version, profile.eventId])
    }

    /// Recomputes strength(user, video) from its sums and the video's duration,
    /// and carries a change into `norm2` and `reco_pairs`.
    static func refreshStrength(user: String, video: String, parameters: ModelParameters, in db: Database) throws {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT i.seconds_sum, i.views_without_seconds, i.first_watched_ms, v.catalogued, v.duration_ms
                        FROM reco_user_items i JOIN reco_videos v ON v.video_id = i.video_id
                        WHERE i.user_id = ? AND i.video_id = ?
                        """), arguments: [user, video])
        else { return }
        let catalogued: Bool = row["catalogued"]
        let new = Feedback.strength(
            secondsSum: row["seconds_sum"], viewsWithoutSeconds: row["views_without_seconds"],
            durationMs: catalogued ? row["duration_ms"] : nil, parameters: parameters)
        let place = PairWindow.Place(firstWatchedMs: row["first_watched_ms"], videoId: video)
        try setStrength(new, user: user, at: place, parameters: parameters, in: db)
    }

    /// Sets strength(user, video) and carries the change into `norm2` and the
    /// pairs of the video's window (`PairWindow`).
    static func setStrength(
        _ new: Int64, user: String, at place: PairWindow.Place, parameters: ModelParameters, in db: Database
    ) throws {
        guard
            let old = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT strength FROM reco_user_items WHERE user_id = ? AND video_id = ?"),
                arguments: [user, place.videoId]), new != old
        else { return }
        try PairWindow.spread(new - old, user: user, video: place, window: parameters.pairWindow, in: db)
        try db.cachedStatement(sql: "UPDATE reco_videos SET norm2 = norm2 + ? WHERE video_id = ?").execute(arguments: [
            new * new - old * old, place.videoId,
        ])
        try db.cachedStatement(sql: "UPDATE reco_user_items SET strength = ? WHERE user_id = ? AND video_id = ?")
            .execute(arguments: [new, user, place.videoId])
    }
}

/// Tag lists as stored: a JSON array of strings.
enum TagList {
    static func encode(_ tags: [String]) -> String {
        String(decoding: (try? JSONEncoder().encode(tags)) ?? Data("[]".utf8), as: UTF8.self)
    }

    /// A request decodes the tags of every candidate (~1,000), so the common
    /// form, `["a","b"]` as `encode` writes it with no escape in any tag, is
    /// read by hand (JSONDecoder was a quarter of a request's time); anything
    /// else goes to JSONDecoder.
    static func decode(_ text: String) -> [String] {
        if let plain = decodePlain(text) { return plain }
        return (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []
    }

    /// `[]` or `["…","…"]` with no backslash and no control character inside
    /// the strings and no space outside them; nil for any other text.
    static func decodePlain(_ text: String) -> [String]? {
        var text = text
        return text.withUTF8 { bytes -> [String]? in
            guard bytes.count >= 2, bytes.first == UInt8(ascii: "["), bytes.last == UInt8(ascii: "]") else {
                return nil
            }
            var tags: [String] = []
            var i = 1
            let end = bytes.count - 1
            if i == end { return tags }
            while true {
                guard i < end, bytes[i] == UInt8(ascii: "\"") else { return nil }
                let start = i + 1
                var j = start
                while j < end, bytes[j] != UInt8(ascii: "\"") {
                    if bytes[j] == UInt8(ascii: "\\") || bytes[j] < 0x20 { return nil }
                    j += 1
                }
                guard j < end else { return nil }
                tags.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<j]), as: UTF8.self))
                i = j + 1
                if i == end { return tags }
                guard bytes[i] == UInt8(ascii: ",") else { return nil }
                i += 1
            }
        }
    }
}
