public import GRDB

/// The video service's tables. Migrations are append-only.
///
/// - `videos`: one row per upload; `seq` orders `video.list` (newest first) and
///   is its cursor; `tags` and `media` are JSON. The indexes serve the owner and
///   status filters.
/// - `uploads`: chunked uploads in progress. `received_bytes` is how much of the
///   part file (`<data>/video/uploads/<upload_id>.part`) is durable; `video_id`
///   is set by the finish that made the video, so a repeated finish answers it;
///   `updated_at` is when it began or last moved (a chunk, its finish): the sweep
///   removes an upload, finished or not, idle for longer than the upload expiry.
public enum VideoSchema {
    public static func register(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("video-1-videos-uploads") { db in
            try db.execute(
                sql: """
                    CREATE TABLE videos (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        video_id TEXT NOT NULL UNIQUE,
                        owner_id TEXT NOT NULL,
                        title TEXT NOT NULL,
                        tags TEXT NOT NULL,
                        status TEXT NOT NULL,
                        content_type TEXT NOT NULL,
                        size_bytes INTEGER NOT NULL,
                        source_blob_id TEXT NOT NULL,
                        uploaded_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        media TEXT,
                        thumbnail_blob_id TEXT,
                        preview_blob_id TEXT,
                        failure_reason TEXT,
                        synthetic INTEGER
                    );
                    CREATE INDEX videos_owner ON videos(owner_id, seq);
                    CREATE INDEX videos_status ON videos(status, seq);
                    CREATE TABLE uploads (
                        upload_id TEXT PRIMARY KEY NOT NULL,
                        owner_id TEXT NOT NULL,
                        title TEXT NOT NULL,
                        tags TEXT NOT NULL,
                        content_type TEXT NOT NULL,
                        expected_size INTEGER,
                        received_bytes INTEGER NOT NULL,
                        created_at INTEGER NOT NULL,
                        video_id TEXT
                    );
                    """)
        }
        // The storage sweep (`VideoJanitor`): when an upload last moved, and which
        // videos use a blob (one indexed lookup per old blob file).
        migrator.registerMigration("video-2-sweep") { db in
            try db.execute(
                sql: """
                    ALTER TABLE uploads ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
                    UPDATE uploads SET updated_at = created_at;
                    CREATE INDEX uploads_updated ON uploads(updated_at);
                    CREATE INDEX videos_source_blob ON videos(source_blob_id);
                    CREATE INDEX videos_thumbnail_blob ON videos(thumbnail_blob_id);
                    CREATE INDEX videos_preview_blob ON videos(preview_blob_id);
                    """)
        }
    }
}
