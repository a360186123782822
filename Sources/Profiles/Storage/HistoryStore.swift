public import GRDB

/// Watch history in SQLite: one entry per `video.watched` event, pages newest
/// first. Runs on the caller's `Database`, like `UserStore`.
public enum HistoryStore {
    public static let defaultPageSize = 20
    public static let maxPageSize = 100

    /// Appends the event's entry. Returns false when an entry with this event id
    /// is already there (a redelivery the inbox did not catch): nothing changes.
    /// Throws `ProfileError.invalid` for a payload that breaks the rules and
    /// `.notFound` for an unknown user; both are permanent for this event.
    @discardableResult
    public static func record(_ event: VideoWatched, eventId: String, in db: Database) throws -> Bool {
        let eventId = try ProfileRules.id(eventId, field: "eventId")
        let userId = try ProfileRules.id(event.userId, field: "userId")
        let videoId = try ProfileRules.id(event.videoId, field: "videoId")
        guard event.watchedAtMs >= 0 else { throw ProfileError.invalid("watchedAtMs", "must not be negative") }
        if let seconds = event.secondsWatched, seconds < 0 {
            throw ProfileError.invalid("secondsWatched", "must not be negative")
        }
        try ensureUserExists(userId, in: db)
        try db.cachedStatement(
            sql: """
                INSERT INTO watch_history (event_id, user_id, video_id, watched_at, seconds_watched)
                VALUES (?, ?, ?, ?, ?) ON CONFLICT(event_id) DO NOTHING
                """
        ).execute(arguments: [eventId, userId, videoId, event.watchedAtMs, event.secondsWatched])
        return db.changesCount == 1
    }

    /// One page of `request.userId`'s history, newest first; `nextCursor` only
    /// when more entries follow. Unknown user: `ProfileError.notFound` (an
    /// existing user with no history gets an empty page).
    public static func page(_ request: HistoryRequest, in db: Database) throws -> HistoryPage {
        let userId = try ProfileRules.id(request.userId, field: "userId")
        let limit = request.limit ?? defaultPageSize
        guard (1...maxPageSize).contains(limit) else {
            throw ProfileError.invalid("limit", "must be 1–\(maxPageSize)")
        }
        let after = try request.cursor.map { text throws(ProfileError) in try HistoryCursor(text: text) }
        try ensureUserExists(userId, in: db)
        var sql = "SELECT seq, event_id, video_id, watched_at, seconds_watched FROM watch_history WHERE user_id = ?"
        var arguments: StatementArguments = [userId]
        if let after {
            sql += " AND (watched_at < ? OR (watched_at = ? AND seq < ?))"
            arguments += [after.watchedAtMs, after.watchedAtMs, after.seq]
        }
        sql += " ORDER BY watched_at DESC, seq DESC LIMIT ?"
        arguments += [limit + 1]  // one more than asked: is there a next page?
        let rows = try Row.fetchAll(db, sql: sql, arguments: arguments)
        let page = rows.prefix(limit)
        let entries = page.map { row in
            WatchEntry(
                eventId: row["event_id"], videoId: row["video_id"], watchedAtMs: row["watched_at"],
                secondsWatched: row["seconds_watched"])
        }
        let next =
            rows.count > limit ? page.last.map { HistoryCursor(watchedAtMs: $0["watched_at"], seq: $0["seq"]) } : nil
        return HistoryPage(entries: entries, nextCursor: next?.text)
    }

    private static func ensureUserExists(_ id: String, in db: Database) throws {
        guard try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM users WHERE id = ?"), arguments: [id]) == true
        else {
            throw ProfileError.notFound(user: id)
        }
    }
}
