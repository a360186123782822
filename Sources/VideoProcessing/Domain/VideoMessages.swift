/// The bodies of the `video.*` rpc methods (JSON, protocol.md §6). Method names
/// and idempotency live in `VideoAPI`; these types are shared with callers.

/// `video.upload`: one call with exactly one of `path` (a file the worker can
/// read: the CLI's way) or `data` (base64, at most `VideoAPI.maxInlineBytes` raw).
public struct UploadRequest: Codable, Hashable, Sendable {
    public var ownerId: String
    public var title: String
    public var tags: [String]?
    public var contentType: String?
    public var path: String?
    public var data: String?

    public init(
        ownerId: String, title: String, tags: [String]? = nil, contentType: String? = nil, path: String? = nil,
        data: String? = nil
    ) {
        self.ownerId = ownerId
        self.title = title
        self.tags = tags
        self.contentType = contentType
        self.path = path
        self.data = data
    }
}

/// `video.upload.begin`: the video's fields; `sizeBytes`, if given, is checked at finish.
public struct UploadBeginRequest: Codable, Hashable, Sendable {
    public var ownerId: String
    public var title: String
    public var tags: [String]?
    public var contentType: String?
    public var sizeBytes: Int64?

    public init(
        ownerId: String, title: String, tags: [String]? = nil, contentType: String? = nil, sizeBytes: Int64? = nil
    ) {
        self.ownerId = ownerId
        self.title = title
        self.tags = tags
        self.contentType = contentType
        self.sizeBytes = sizeBytes
    }
}

public struct UploadBeginResponse: Codable, Hashable, Sendable {
    public var uploadId: String
    /// The largest `data` (raw bytes) a chunk may carry.
    public var maxChunkBytes: Int
    public init(uploadId: String, maxChunkBytes: Int) {
        self.uploadId = uploadId
        self.maxChunkBytes = maxChunkBytes
    }
}

/// `video.upload.chunk`: `data` (base64) at byte `offset`. The next chunk starts
/// at `receivedBytes`; a chunk sent again (same bytes, same offset) changes nothing.
public struct UploadChunkRequest: Codable, Hashable, Sendable {
    public var uploadId: String
    public var offset: Int64
    public var data: String
    public init(uploadId: String, offset: Int64, data: String) {
        self.uploadId = uploadId
        self.offset = offset
        self.data = data
    }
}

/// The head of `video.upload.bytes` (protocol.md §6.9): the chunk's bytes follow
/// it raw, at byte `offset` of the upload, with `video.upload.chunk`'s rules.
public struct UploadBytesHead: Codable, Hashable, Sendable {
    public var uploadId: String
    public var offset: Int64
    public init(uploadId: String, offset: Int64) {
        self.uploadId = uploadId
        self.offset = offset
    }
}

public struct UploadChunkResponse: Codable, Hashable, Sendable {
    public var uploadId: String
    public var receivedBytes: Int64
    public init(uploadId: String, receivedBytes: Int64) {
        self.uploadId = uploadId
        self.receivedBytes = receivedBytes
    }
}

/// `video.upload.finish`: `sha256` (lowercase hex), if given, must match the bytes received.
public struct UploadFinishRequest: Codable, Hashable, Sendable {
    public var uploadId: String
    public var sha256: String?
    public init(uploadId: String, sha256: String? = nil) {
        self.uploadId = uploadId
        self.sha256 = sha256
    }
}

/// `video.upload.abort`: the upload to give up (its part file and row are removed).
public struct UploadAbortRequest: Codable, Hashable, Sendable {
    public var uploadId: String
    public init(uploadId: String) { self.uploadId = uploadId }
}

/// The answer of `video.upload.abort`.
public struct UploadAbortResponse: Codable, Hashable, Sendable {
    public var uploadId: String
    /// The bytes the removed part file held.
    public var removedBytes: Int64
    public init(uploadId: String, removedBytes: Int64) {
        self.uploadId = uploadId
        self.removedBytes = removedBytes
    }
}

/// `video.get`.
public struct GetVideoRequest: Codable, Hashable, Sendable {
    public var videoId: String
    public init(videoId: String) { self.videoId = videoId }
}

/// `video.list`: newest upload first; `limit` 1–100 (default 20); `after` is a page's `next`.
public struct ListVideosRequest: Codable, Hashable, Sendable {
    public var ownerId: String?
    public var status: VideoStatus?
    public var limit: Int?
    public var after: String?
    public init(ownerId: String? = nil, status: VideoStatus? = nil, limit: Int? = nil, after: String? = nil) {
        self.ownerId = ownerId
        self.status = status
        self.limit = limit
        self.after = after
    }
}

/// One page; `next` is absent on the last one.
public struct VideoPage: Codable, Hashable, Sendable {
    public var videos: [Video]
    public var next: String?
    public init(videos: [Video], next: String?) {
        self.videos = videos
        self.next = next
    }
}

/// `video.media.read`: `length` bytes (1–512 KiB) from `offset` of a processed
/// video's output, `kind` `thumbnail` (JPEG) or `preview` (MP4).
public struct MediaReadRequest: Codable, Hashable, Sendable {
    public var videoId: String
    public var kind: String
    public var offset: Int64
    public var length: Int
    public init(videoId: String, kind: String, offset: Int64, length: Int) {
        self.videoId = videoId
        self.kind = kind
        self.offset = offset
        self.length = length
    }
}

/// The answer of `video.media.read`: the bytes (base64) from `offset`, fewer than
/// asked at the end (none at or past it), and what a reader needs to serve them:
/// the blob's id (its SHA-256: an ETag that never changes meaning), its type and size.
public struct MediaChunk: Codable, Hashable, Sendable {
    public var videoId: String
    public var kind: String
    public var blobId: String
    public var contentType: String
    public var totalBytes: Int64
    public var offset: Int64
    public var data: String
    public init(
        videoId: String, kind: String, blobId: String, contentType: String, totalBytes: Int64, offset: Int64,
        data: String
    ) {
        self.videoId = videoId
        self.kind = kind
        self.blobId = blobId
        self.contentType = contentType
        self.totalBytes = totalBytes
        self.offset = offset
        self.data = data
    }
}

/// The head of `video.media.bytes`'s answer (protocol.md §6.9): `MediaChunk`
/// without `data`, whose bytes follow the head raw. `length` is their count.
public struct MediaHead: Codable, Hashable, Sendable {
    public var videoId: String
    public var kind: String
    public var blobId: String
    public var contentType: String
    public var totalBytes: Int64
    public var offset: Int64
    public var length: Int
    public init(
        videoId: String, kind: String, blobId: String, contentType: String, totalBytes: Int64, offset: Int64,
        length: Int
    ) {
        self.videoId = videoId
        self.kind = kind
        self.blobId = blobId
        self.contentType = contentType
        self.totalBytes = totalBytes
        self.offset = offset
        self.length = length
    }
}
