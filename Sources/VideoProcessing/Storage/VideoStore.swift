import Foundation
public import GRDB

/// Videos in SQLite. Every function runs on the `Database` it is given (inside
/// the caller's transaction) and throws `VideoError` for what the caller did
/// wrong, GRDB's errors for what the disk did.
public enum VideoStore {
    public static let defaultPageSize = 20
    public static let maxPageSize = 100

    public static func insert(_ video: Video, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO videos (video_id, owner_id, title, tags, status, content_type, size_bytes,
                    source_blob_id, uploaded_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                video.videoId, video.ownerId, video.title, json(video.tags), video.status.rawValue, video.contentType,
                video.sizeBytes, video.sourceBlobId, video.uploadedAtMs, video.updatedAtMs,
            ])
    }

    public static func find(id: String, in db: Database) throws -> Video? {
        try Row.fetchOne(db, sql: "SELECT * FROM videos WHERE video_id = ?", arguments: [id]).map(video(from:))
    }

    /// Whether any video names blob `id` (its source, thumbnail or preview): three
    /// indexed lookups (`video-2-sweep`).
    public static func usesBlob(_ id: String, in db: Database) throws -> Bool {
        try Bool.fetchOne(
            db,
            sql: """
                SELECT EXISTS(SELECT 1 FROM videos WHERE source_blob_id = ?1)
                    OR EXISTS(SELECT 1 FROM videos WHERE thumbnail_blob_id = ?1)
                    OR EXISTS(SELECT 1 FROM videos WHERE preview_blob_id = ?1)
                """, arguments: [id]) ?? true
    }

    public static func get(id: String, in db: Database) throws -> Video {
        let id = try VideoRules.id(id, field: "videoId")
        guard let video = try find(id: id, in: db) else { throw VideoError(.notFound, "no video \(id)") }
        return video
    }

    /// Moves the video to `processing` (again, after a crash) and returns it; a
    /// final video is returned unchanged (a late redelivery must not reopen it).
    public static func markProcessing(id: String, nowMs: Int64, in db: Database) throws -> Video {
        var video = try get(id: id, in: db)
        guard video.status.allows(.processing) else { return video }
        video.status = .processing
        video.updatedAtMs = nowMs
        try db.execute(
            sql: "UPDATE videos SET status = ?, updated_at = ? WHERE video_id = ?",
            arguments: [video.status.rawValue, nowMs, id])
        return video
    }

    /// `processed` with the step's outputs; nil if the video is already final.
    public static func markProcessed(id: String, outputs: MediaOutputs, nowMs: Int64, in db: Database) throws
        -> Video?
    {
        var video = try get(id: id, in: db)
        guard video.status.allows(.processed) else { return nil }
        video.status = .processed
        video.updatedAtMs = nowMs
        video.media = outputs.media
        video.thumbnailBlobId = outputs.thumbnailBlobId
        video.previewBlobId = outputs.previewBlobId
        video.synthetic = outputs.synthetic ? true : nil
        try db.execute(
            sql: """
                UPDATE videos SET status = ?, updated_at = ?, media = ?, thumbnail_blob_id = ?, preview_blob_id = ?,
                    synthetic = ?
                WHERE video_id = ?
                """,
            arguments: [
                video.status.rawValue, nowMs, json(outputs.media), outputs.thumbnailBlobId, outputs.previewBlobId,
                outputs.synthetic ? 1 : nil, id,
            ])
        return video
    }

    /// `failed` with `reason`; nil if the video is already final.
    public static func markFailed(id: String, reason: String, nowMs: Int64, in db: Database) throws -> Video? {
        var video = try get(id: id, in: db)
        guard video.status.allows(.failed) else { return nil }
        video.status = .failed
        video.updatedAtMs = nowMs
        video.failureReason = reason
        try db.execute(
            sql: "UPDATE videos SET status = ?, updated_at = ?, failure_reason = ? WHERE video_id = ?",
            arguments: [video.status.rawValue, nowMs, reason, id])
        return video
    }

    /// A page of videos, newest upload first, filtered by owner and status.
    public static func list(_ request: ListVideosRequest, in db: Database) throws -> VideoPage {
        let limit = request.limit ?? defaultPageSize
        guard (1...maxPageSize).contains(limit) else { throw VideoError.invalid("limit", "must be 1–\(maxPageSize)") }
        var sql = "SELECT * FROM videos WHERE 1 = 1"
        var arguments: StatementArguments = []
        if let owner = request.ownerId {
            sql += " AND owner_id = ?"
            arguments += [try VideoRules.id(owner, field: "ownerId")]
        }
        if let status = request.status {
            sql += " AND status = ?"
            arguments += [status.rawValue]
        }
        if let after = request.after {
            guard !after.isEmpty, after.utf8.count <= 19, after.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                let seq = Int64(after)
            else { throw VideoError.invalid("after", "not a cursor this service made") }
            sql += " AND seq < ?"
            arguments += [seq]
        }
        sql += " ORDER BY seq DESC LIMIT ?"
        arguments += [limit + 1]
        let rows = try Row.fetchAll(db, sql: sql, arguments: arguments)
        let page = rows.prefix(limit)
        let next: String? = rows.count > limit ? page.last.map { "\($0["seq"] as Int64)" } : nil
        return VideoPage(videos: try page.map(video(from:)), next: next)
    }

    // MARK: - Rows

    static func video(from row: Row) throws -> Video {
        var video = Video(
            videoId: row["video_id"], ownerId: row["owner_id"], title: row["title"],
            tags: try decode([String].self, row["tags"]),
            status: VideoStatus(rawValue: row["status"]) ?? .failed, contentType: row["content_type"],
            sizeBytes: row["size_bytes"], sourceBlobId: row["source_blob_id"], uploadedAtMs: row["uploaded_at"],
            updatedAtMs: row["updated_at"])
        if let media: String = row["media"] { video.media = try decode(MediaInfo.self, media) }
        video.thumbnailBlobId = row["thumbnail_blob_id"]
        video.previewBlobId = row["preview_blob_id"]
        video.failureReason = row["failure_reason"]
        video.synthetic = (row["synthetic"] as Int64?).map { $0 != 0 }
        return video
    }

    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }
}
