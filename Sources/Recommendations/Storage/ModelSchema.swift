public import GRDB

/// The model's tables (append-only migrations). Every table is a sum, a maximum
/// or a "highest version wins" row over events, so the same set of events
/// gives the same rows in any order.
///
/// - `reco_videos`: one row per video seen in any event; `catalogued` once a
///   `video.processed` came (title, tags, duration from the winning version).
///   `popularity` is Σ over views of `Feedback.popularityTerm`; `norm2` is
///   Σ_u strength(u, v)². The index serves "most popular" and the maximum.
/// - `reco_video_tags`: (tag, video) of catalogued videos, with a copy of the
///   video's popularity: "popular in <tag>" is one index range.
/// - `reco_views`: one row per `video.watched` event id (a second line of
///   defence behind the inbox: a view is counted once).
/// - `reco_user_items`: per (user, video) the sums strength is made of, and the
///   strength currently applied to `reco_pairs`/`norm2` (0 while the video is
///   not catalogued). Indexed by video (re-weighting when a video is
///   catalogued), by user and recency (the history a request reads) and by
///   user and first view (the order of `PairWindow`).
/// - `reco_pairs`: dot(a, b) = Σ_u strength(u, a) · strength(u, b) over the
///   users in whose order (by first watched) a and b are within `pairWindow`
///   places (`PairWindow`), stored both ways so one index range gives a
///   video's strongest neighbours; a pair at 0 has no row.
/// - `reco_users`: favourite tags from the winning profile version.
public enum ModelSchema {
    public static func register(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("recommendations-1-model") { db in
            try db.execute(
                sql: """
                    CREATE TABLE reco_videos (
                        video_id TEXT PRIMARY KEY NOT NULL,
                        catalogued INTEGER NOT NULL DEFAULT 0,
                        title TEXT NOT NULL DEFAULT '',
                        tags TEXT NOT NULL DEFAULT '[]',
                        duration_ms INTEGER,
                        version_order INTEGER,
                        version_event TEXT,
                        popularity REAL NOT NULL DEFAULT 0,
                        norm2 INTEGER NOT NULL DEFAULT 0,
                        views INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE INDEX reco_videos_popular ON reco_videos(catalogued, popularity DESC, video_id);
                    CREATE TABLE reco_video_tags (
                        tag TEXT NOT NULL,
                        video_id TEXT NOT NULL,
                        PRIMARY KEY (tag, video_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE reco_views (
                        event_id TEXT PRIMARY KEY NOT NULL,
                        user_id TEXT NOT NULL,
                        video_id TEXT NOT NULL,
                        watched_at_ms INTEGER NOT NULL,
                        seconds_watched INTEGER
                    ) WITHOUT ROWID;
                    CREATE TABLE reco_user_items (
                        user_id TEXT NOT NULL,
                        video_id TEXT NOT NULL,
                        views INTEGER NOT NULL,
                        seconds_sum INTEGER NOT NULL,
                        views_without_seconds INTEGER NOT NULL,
                        last_watched_ms INTEGER NOT NULL,
                        strength INTEGER NOT NULL,
                        PRIMARY KEY (user_id, video_id)
                    ) WITHOUT ROWID;
                    CREATE INDEX reco_user_items_by_video ON reco_user_items(video_id);
                    CREATE INDEX reco_user_items_recent ON reco_user_items(user_id, last_watched_ms DESC, video_id);
                    CREATE TABLE reco_pairs (
                        video_a TEXT NOT NULL,
                        video_b TEXT NOT NULL,
                        dot INTEGER NOT NULL,
                        PRIMARY KEY (video_a, video_b)
                    ) WITHOUT ROWID;
                    CREATE INDEX reco_pairs_strongest ON reco_pairs(video_a, dot DESC, video_b);
                    CREATE TABLE reco_users (
                        user_id TEXT PRIMARY KEY NOT NULL,
                        favourite_tags TEXT NOT NULL,
                        version INTEGER NOT NULL,
                        version_event TEXT NOT NULL
                    ) WITHOUT ROWID;
                    """)
        }
        // The co-occurrence window (`PairWindow`): each (user, video) keeps
        // when it was first watched, the order pairs are counted in; the pairs
        // of a model built before are recomputed under the window.
        migrator.registerMigration("recommendations-2-pair-window") { db in
            try db.execute(
                sql: """
                    ALTER TABLE reco_user_items ADD COLUMN first_watched_ms INTEGER NOT NULL DEFAULT 0;
                    UPDATE reco_user_items SET first_watched_ms = f.first
                    FROM (SELECT user_id, video_id, MIN(watched_at_ms) AS first FROM reco_views
                          GROUP BY user_id, video_id) AS f
                    WHERE f.user_id = reco_user_items.user_id AND f.video_id = reco_user_items.video_id;
                    CREATE INDEX reco_user_items_order ON reco_user_items(user_id, first_watched_ms, video_id);
                    """)
            try PairWindow.rebuild(window: ModelParameters.standard.pairWindow, in: db)
        }
        // "Popular in <tag>" from an index instead of sorting all the tag's
        // videos per request: each tag row keeps a copy of its video's
        // popularity, which a view updates through the index by video.
        migrator.registerMigration("recommendations-3-tag-popularity") { db in
            try db.execute(
                sql: """
                    ALTER TABLE reco_video_tags ADD COLUMN popularity REAL NOT NULL DEFAULT 0;
                    UPDATE reco_video_tags SET popularity =
                        (SELECT popularity FROM reco_videos v WHERE v.video_id = reco_video_tags.video_id);
                    CREATE INDEX reco_video_tags_popular ON reco_video_tags(tag, popularity DESC, video_id);
                    CREATE INDEX reco_video_tags_by_video ON reco_video_tags(video_id);
                    """)
        }
    }
}
