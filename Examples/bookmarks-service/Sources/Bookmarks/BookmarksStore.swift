import Foundation
public import GRDB

/// The service's tables and the functions over them. They take a `Database`,
/// never open one: the runtime runs them inside its transactions, and tests run
/// them on a temporary file.
public enum BookmarksStore {
    public static func register(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("bookmarks-1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE bookmarks (
                        user_id TEXT NOT NULL,
                        video_id TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        PRIMARY KEY (user_id, video_id)
                    );
                    CREATE TABLE views (video_id TEXT PRIMARY KEY NOT NULL, count INTEGER NOT NULL);
                    """)
        }
    }

    /// Adds the bookmark; returns it and whether it is new.
    public static func add(_ request: AddBookmark, nowMs: Int64, in db: Database) throws -> (Bookmark, isNew: Bool) {
        try db.execute(
            sql: "INSERT INTO bookmarks VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            arguments: [request.userId, request.videoId, nowMs])
        let isNew = db.changesCount == 1
        let bookmark = try list(userId: request.userId, in: db).first { $0.videoId == request.videoId }!
        return (bookmark, isNew)
    }

    public static func list(userId: String, in db: Database) throws -> [Bookmark] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT b.video_id, b.created_at, COALESCE(v.count, 0) AS views
                FROM bookmarks b LEFT JOIN views v ON v.video_id = b.video_id
                WHERE b.user_id = ? ORDER BY b.created_at DESC, b.video_id
                """, arguments: [userId]
        ).map { Bookmark(videoId: $0["video_id"], createdAtMs: $0["created_at"], views: $0["views"]) }
    }

    /// One more view of `videoId`. Not idempotent by itself: the runtime's inbox
    /// runs it once per event id, however often the event is delivered.
    public static func countView(of videoId: String, in db: Database) throws {
        try db.execute(
            sql: "INSERT INTO views VALUES (?, 1) ON CONFLICT(video_id) DO UPDATE SET count = count + 1",
            arguments: [videoId])
    }
}
