import Foundation
public import GRDB

#if canImport(Glibc)
    import Glibc
#endif

/// Chunked uploads in progress (`uploads`), and the rules of a chunk. The bytes
/// themselves are in the part file (`UploadFiles`); the row says how much of it
/// is durable, so any instance sharing the data folder can take the next chunk.
public enum UploadStore {
    /// An upload as stored.
    public struct Upload: Hashable, Sendable {
        public var uploadId: String
        public var ownerId: String
        public var title: String
        public var tags: [String]
        public var contentType: String
        public var expectedSize: Int64?
        public var receivedBytes: Int64
        /// Set by the finish that made the video.
        public var videoId: String?
    }

    /// What to do with a chunk, decided from the stored row alone.
    public enum ChunkPlan: Equatable, Sendable {
        /// Write the bytes at the offset (== receivedBytes) and advance.
        case append
        /// The chunk was taken before (a retry): check that the bytes match, change nothing.
        case verify
    }

    public static func begin(
        _ request: UploadBeginRequest, uploadId: String, nowMs: Int64, in db: Database
    ) throws -> Upload {
        let fields = try VideoRules.upload(
            ownerId: request.ownerId, title: request.title, tags: request.tags, contentType: request.contentType)
        if let size = request.sizeBytes, size < 0 { throw VideoError.invalid("sizeBytes", "must not be negative") }
        let upload = Upload(
            uploadId: uploadId, ownerId: fields.ownerId, title: fields.title, tags: fields.tags,
            contentType: fields.contentType, expectedSize: request.sizeBytes, receivedBytes: 0, videoId: nil)
        try db.execute(
            sql: """
                INSERT INTO uploads (upload_id, owner_id, title, tags, content_type, expected_size, received_bytes,
                    created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)
                """,
            arguments: [
                uploadId, upload.ownerId, upload.title, VideoStore.json(upload.tags), upload.contentType,
                upload.expectedSize, nowMs, nowMs,
            ])
        return upload
    }

    public static func get(id: String, in db: Database) throws -> Upload {
        let id = try VideoRules.id(id, field: "uploadId")
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM uploads WHERE upload_id = ?", arguments: [id]) else {
            throw VideoError(.notFound, "no upload \(id)")
        }
        return Upload(
            uploadId: row["upload_id"], ownerId: row["owner_id"], title: row["title"],
            tags: try VideoStore.decode([String].self, row["tags"]), contentType: row["content_type"],
            expectedSize: row["expected_size"], receivedBytes: row["received_bytes"], videoId: row["video_id"])
    }

    /// Checks in this order: finished (conflict), empty or too large (invalid),
    /// past the end of what was received (conflict: a chunk is missing), a
    /// partial overlap (conflict), past the announced size (invalid).
    public static func plan(_ upload: Upload, offset: Int64, length: Int, maxChunkBytes: Int) throws(VideoError)
        -> ChunkPlan
    {
        guard upload.videoId == nil else { throw VideoError(.conflict, "upload \(upload.uploadId) is finished") }
        guard length > 0, length <= maxChunkBytes else {
            throw .invalid("data", "a chunk carries 1–\(maxChunkBytes) bytes")
        }
        guard offset >= 0 else { throw .invalid("offset", "must not be negative") }
        let end = offset + Int64(length)
        if offset == upload.receivedBytes {
            if let size = upload.expectedSize, end > size {
                throw .invalid("data", "the upload announced \(size) bytes; this chunk ends at \(end)")
            }
            return .append
        }
        if end <= upload.receivedBytes { return .verify }
        throw VideoError(
            .conflict, "offset \(offset): \(upload.receivedBytes) bytes are received; the next chunk starts there")
    }

    /// Records that the part file holds `receivedBytes`; false if another
    /// instance moved the row meanwhile (the caller re-reads it).
    public static func advance(id: String, from: Int64, to: Int64, nowMs: Int64, in db: Database) throws -> Bool {
        try db.execute(
            sql: """
                UPDATE uploads SET received_bytes = ?, updated_at = ?
                WHERE upload_id = ? AND received_bytes = ? AND video_id IS NULL
                """,
            arguments: [to, nowMs, id, from])
        return db.changesCount == 1
    }

    public static func finish(id: String, videoId: String, nowMs: Int64, in db: Database) throws {
        try db.execute(
            sql: "UPDATE uploads SET video_id = ?, updated_at = ? WHERE upload_id = ?", arguments: [videoId, nowMs, id])
    }

    /// Removes an upload that is not finished (`video.upload.abort`); the caller
    /// then removes its part file. A finished one is a conflict (its video exists:
    /// abort is not delete), an unknown one (never begun, or already removed) not found.
    public static func abort(id: String, in db: Database) throws {
        let upload = try get(id: id, in: db)
        if let videoId = upload.videoId {
            throw VideoError(.conflict, "upload \(upload.uploadId) is finished: it made video \(videoId)")
        }
        try db.execute(sql: "DELETE FROM uploads WHERE upload_id = ?", arguments: [upload.uploadId])
    }

    /// Up to `limit` uploads idle since before `cutoffMs` (their begin, last chunk
    /// or finish), oldest first: the sweep's to remove.
    public static func idle(before cutoffMs: Int64, limit: Int, in db: Database) throws -> [String] {
        try String.fetchAll(
            db, sql: "SELECT upload_id FROM uploads WHERE updated_at < ? ORDER BY updated_at LIMIT ?",
            arguments: [cutoffMs, limit])
    }

    /// Removes the row of an idle upload if it is still idle (a chunk may have come
    /// since it was listed); true if it did.
    public static func removeIdle(id: String, before cutoffMs: Int64, in db: Database) throws -> Bool {
        try db.execute(sql: "DELETE FROM uploads WHERE upload_id = ? AND updated_at < ?", arguments: [id, cutoffMs])
        return db.changesCount == 1
    }
}

/// The part files of chunked uploads: `<data>/video/uploads/<uploadId>.part`.
/// Blocking I/O: call off the pool.
public struct UploadFiles: Sendable {
    public let folder: String

    public init(dataFolder: String) {
        folder =
            URL(fileURLWithPath: dataFolder).appendingPathComponent(VideoProcessing.serviceName)
            .appendingPathComponent("uploads").path
    }

    public func path(of uploadId: String) -> String { "\(folder)/\(Self.fileName(uploadId)).part" }

    /// Writes `bytes` at `offset` and fsyncs before returning.
    public func write(_ bytes: [UInt8], at offset: Int64, to uploadId: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let fd = open(path(of: uploadId), O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BlobError.failed("cannot open the part file") }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes {
                pwrite(fd, $0.baseAddress! + done, $0.count - done, off_t(offset) + off_t(done))
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw BlobError.failed("write to the part file") }
            done += n
        }
        guard fsync(fd) == 0 else { throw BlobError.failed("fsync the part file") }
    }

    /// The `count` bytes at `offset` (a repeated chunk's check).
    public func read(_ uploadId: String, at offset: Int64, count: Int) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path(of: uploadId)) else { return [] }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        return [UInt8](try handle.read(upToCount: count) ?? Data())
    }

    /// Removes the part file; returns the bytes it held (0 when there was none).
    @discardableResult
    public func remove(_ uploadId: String) -> Int64 {
        let path = path(of: uploadId)
        var info = stat()
        let size = stat(path, &info) == 0 ? Int64(info.st_size) : 0
        return unlink(path) == 0 ? size : 0
    }

    /// Upload ids are UUIDs this service made; anything else is hex-escaped so it
    /// can never name a path outside the folder.
    private static func fileName(_ id: String) -> String {
        id.utf8.allSatisfy({ $0 == 0x2D || (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) })
            ? id : id.utf8.map { String(format: "%02x", $0) }.joined()
    }
}
