public import GRDB

/// The profiles service's tables. Migrations are append-only: a shipped
/// migration is never edited, a change is a new one.
///
/// - `users`: `email_key` (the lower-cased email) is UNIQUE, so two users can
///   never share an address whatever the checks above it do; `favourite_tags` is
///   a JSON array of strings.
/// - `watch_history`: `seq` orders arrivals (the tie-break for equal watch
///   times, and the cursor's second half); `event_id` is UNIQUE, so a
///   `video.watched` redelivered past the runtime's inbox (or published twice
///   under one id) still makes one entry. The index serves "newest first" pages.
public enum ProfilesSchema {
    public static func register(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("profiles-1-users-history") { db in
            try db.execute(
                sql: """
                    CREATE TABLE users (
                        id TEXT PRIMARY KEY NOT NULL,
                        display_name TEXT NOT NULL,
                        email TEXT NOT NULL,
                        email_key TEXT NOT NULL UNIQUE,
                        favourite_tags TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        version INTEGER NOT NULL
                    );
                    CREATE TABLE watch_history (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        event_id TEXT NOT NULL UNIQUE,
                        user_id TEXT NOT NULL REFERENCES users(id),
                        video_id TEXT NOT NULL,
                        watched_at INTEGER NOT NULL,
                        seconds_watched INTEGER
                    );
                    CREATE INDEX watch_history_newest ON watch_history(user_id, watched_at DESC, seq DESC);
                    """
            )
        }
    }
}
