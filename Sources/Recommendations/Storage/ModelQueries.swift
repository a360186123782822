public import GRDB

/// The reads of a request, over a snapshot. What `recommendations(for:)` costs,
/// whatever the size of the catalogue:
///
/// - the user's watched set (one index range, the user's videos) and favourite tags (one row);
/// - the history: the `historyLimit` most recent watched videos (index `reco_user_items_recent`);
/// - per history video, its `neighboursPerVideo` strongest pairs (index `reco_pairs_strongest`);
/// - `popularCandidates` most popular videos (index `reco_videos_popular`) and the
///   maximum popularity (the same index's first row);
/// - per affine tag (`candidateTags` of them), the tag's most popular videos
///   (index `reco_video_tags_popular`);
/// - the candidates' rows by primary key, 128 per statement.
///
/// Then `Ranker.rank`, in memory.
public enum ModelQueries {
    public static func recommendations(
        for userId: String, limit: Int, parameters p: ModelParameters = .standard, in db: Database
    ) throws -> [Ranker.Recommendation] {
        let watched = Set(
            try String.fetchAll(db, sql: "SELECT video_id FROM reco_user_items WHERE user_id = ?", arguments: [userId]))
        let favourites =
            try String.fetchOne(
                db, sql: "SELECT favourite_tags FROM reco_users WHERE user_id = ?", arguments: [userId]
            ).map(TagList.decode) ?? []
        let history = try Row.fetchAll(
            db,
            sql: """
                SELECT i.video_id, i.strength, v.title, v.tags, v.norm2
                FROM reco_user_items i JOIN reco_videos v ON v.video_id = i.video_id
                WHERE i.user_id = ? AND i.strength > 0
                ORDER BY i.last_watched_ms DESC, i.video_id LIMIT ?
                """, arguments: [userId, p.historyLimit]
        ).map { row in
            Ranker.HistoryItem(
                videoId: row["video_id"], title: row["title"], tags: TagList.decode(row["tags"]),
                strength: row["strength"], norm2: row["norm2"])
        }
        var dots: [String: [String: Int64]] = [:]
        let neighbours = try db.cachedStatement(
            sql: "SELECT video_b, dot FROM reco_pairs WHERE video_a = ? AND dot > 0 ORDER BY dot DESC, video_b LIMIT ?")
        for h in history {
            for row in try Row.fetchAll(neighbours, arguments: [h.videoId, p.neighboursPerVideo]) {
                dots[row["video_b"], default: [:]][h.videoId] = row["dot"]
            }
        }
        var ids = Set(dots.keys)
        let popular = try db.cachedStatement(
            sql: "SELECT video_id FROM reco_videos WHERE catalogued = 1 ORDER BY popularity DESC, video_id LIMIT ?")
        ids.formUnion(try String.fetchAll(popular, arguments: [p.popularCandidates + watched.count]))
        let total = Double(history.reduce(Int64(0)) { $0 + $1.strength })
        let affinity = Ranker.tagAffinity(history: history, total: total, favourites: favourites)
        let inTag = try db.cachedStatement(sql: popularInTag)
        for tag in Ranker.topTags(affinity, count: p.candidateTags) {
            ids.formUnion(try String.fetchAll(inTag, arguments: [tag, p.popularCandidates + watched.count]))
        }
        ids.subtract(watched)
        let candidates = try fetchCandidates(ids.sorted(), dots: dots, in: db)
        let maxPopularity =
            try Double.fetchOne(
                db, sql: "SELECT popularity FROM reco_videos WHERE catalogued = 1 ORDER BY popularity DESC LIMIT 1")
            ?? 0
        return Ranker.rank(
            history: history, favouriteTags: favourites, watched: watched, candidates: candidates,
            maxPopularity: maxPopularity, limit: limit, parameters: p)
    }

    /// The candidates' rows, `chunk` ids per statement (a request has up to
    /// ~1,000: one statement each cost a third of the request). The last
    /// chunk is padded with its first id, so one cached statement serves all.
    /// A tag's most popular videos: one range of `reco_video_tags_popular`.
    static let popularInTag =
        "SELECT video_id FROM reco_video_tags WHERE tag = ? ORDER BY popularity DESC, video_id LIMIT ?"

    private static func fetchCandidates(
        _ ids: [String], dots: [String: [String: Int64]], in db: Database
    ) throws -> [Ranker.Candidate] {
        guard !ids.isEmpty else { return [] }
        let chunk = 128
        let statement = try db.cachedStatement(
            sql: """
                SELECT video_id, title, tags, popularity, norm2 FROM reco_videos
                WHERE video_id IN (\(Array(repeating: "?", count: chunk).joined(separator: ","))) AND +catalogued = 1
                """)
        var candidates: [Ranker.Candidate] = []
        candidates.reserveCapacity(ids.count)
        for start in stride(from: 0, to: ids.count, by: chunk) {
            var slice = Array(ids[start..<min(start + chunk, ids.count)])
            slice += Array(repeating: slice[0], count: chunk - slice.count)
            let rows = try Row.fetchCursor(statement, arguments: StatementArguments(slice))
            while let row = try rows.next() {
                let id: String = row[0]
                candidates.append(
                    Ranker.Candidate(
                        videoId: id, title: row[1], tags: TagList.decode(row[2]), popularity: row[3], norm2: row[4],
                        dots: dots[id] ?? [:]))
            }
        }
        return candidates.sorted { $0.videoId < $1.videoId }
    }

    /// The user's views per video (`recommendations.seen`), by video id.
    public static func seen(userId: String, in db: Database) throws -> [SeenVideo] {
        try Row.fetchAll(
            db, sql: "SELECT video_id, views FROM reco_user_items WHERE user_id = ? ORDER BY video_id",
            arguments: [userId]
        ).map { SeenVideo(videoId: $0["video_id"], count: $0["views"]) }
    }

    /// What the model holds (`recommendations.stats`).
    public static func stats(in db: Database) throws -> ModelStats {
        func count(_ sql: String) throws -> Int { try Int.fetchOne(db, sql: sql) ?? 0 }
        return ModelStats(
            videos: try count("SELECT COUNT(*) FROM reco_videos WHERE catalogued = 1"),
            uncataloguedVideos: try count("SELECT COUNT(*) FROM reco_videos WHERE catalogued = 0"),
            users: try count("SELECT COUNT(DISTINCT user_id) FROM reco_user_items"),
            profiles: try count("SELECT COUNT(*) FROM reco_users"),
            views: try count("SELECT COUNT(*) FROM reco_views"),
            pairs: try count("SELECT COUNT(*) FROM reco_pairs WHERE dot > 0") / 2)
    }
}
