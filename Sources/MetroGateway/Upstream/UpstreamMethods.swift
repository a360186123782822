import MetroKit

/// The video and recommendations methods the gateway calls (spec15 §B, §C and §E),
/// declared here with the request shapes the gateway sends: the services' own
/// `VideoAPI` / `RecommendationsAPI` were being written alongside, and the
/// gateway passes their responses through as JSON, so it only needs the names,
/// their idempotency and the few response fields it reads itself (`UploadBegun`,
/// `VideoSummary`).
enum VideoMethods {
    static let uploadBegin = RpcMethod<UploadBegin, UploadBegun>("video.upload.begin")
    /// A chunk of an upload, raw after a JSON head (protocol.md §6.9).
    static let uploadBytes = RpcBytesRequestMethod<UploadBytesHead, UploadChunkAck>(
        "video.upload.bytes", idempotent: true)
    /// The same in JSON with the bytes in base64: what video workers older than
    /// `uploadBytes` take (the gateway falls back to it on their 400).
    static let uploadChunk = RpcMethod<UploadChunk, UploadChunkAck>("video.upload.chunk", idempotent: true)
    static let uploadFinish = RpcMethod<UploadFinish, VideoSummary>("video.upload.finish", idempotent: true)
    static let uploadAbort = RpcMethod<UploadAbort, UploadAborted>("video.upload.abort", idempotent: true)
    static let get = RpcMethod<VideoID, VideoSummary>("video.get", idempotent: true)
    /// A piece of a thumbnail or preview, raw after a JSON head (protocol.md §6.9).
    static let mediaBytes = RpcBytesReplyMethod<MediaRead, MediaHead>("video.media.bytes", idempotent: true)
    /// The same in JSON with the bytes in base64: what video workers older than
    /// `mediaBytes` answer (the gateway falls back to it on their 400).
    static let mediaRead = RpcMethod<MediaRead, MediaPiece>("video.media.read", idempotent: true)
    static let list = RpcMethod<ListVideos, VideoPageSummary>("video.list", idempotent: true)
}

enum RecommendationMethods {
    static let get = RpcMethod<RecommendationsQuery, RecommendationsSummary>("recommendations.get", idempotent: true)
}

struct UploadBegin: Codable, Sendable {
    var ownerId: String
    var title: String
    var tags: [String]?
    var contentType: String?
    var sizeBytes: Int64?
}

struct UploadBegun: Codable, Sendable {
    var uploadId: String
    var maxChunkBytes: Int
}

struct UploadChunk: Codable, Sendable {
    var uploadId: String
    var offset: Int64
    /// The chunk's bytes, base64.
    var data: String
}

struct UploadChunkAck: Codable, Sendable {
    var uploadId: String
    var receivedBytes: Int64
}

struct UploadFinish: Codable, Sendable {
    var uploadId: String
    var sha256: String?
}

struct UploadAbort: Codable, Sendable {
    var uploadId: String
}

struct UploadAborted: Codable, Sendable {
    var uploadId: String
    var removedBytes: Int64
}

struct UploadBytesHead: Codable, Sendable {
    var uploadId: String
    var offset: Int64
}

struct MediaRead: Codable, Sendable {
    var videoId: String
    var kind: String
    var offset: Int64
    var length: Int
}

/// The head of a piece of a video's thumbnail or preview (`video.media.bytes`).
struct MediaHead: Codable, Sendable {
    var blobId: String
    var contentType: String
    var totalBytes: Int64
    var offset: Int64
}

/// A piece of a video's thumbnail or preview (`video.media.read`).
struct MediaPiece: Codable, Sendable {
    var blobId: String
    var contentType: String
    var totalBytes: Int64
    var offset: Int64
    /// Base64.
    var data: String
}

struct VideoID: Codable, Sendable {
    var videoId: String
}

/// The fields of `Video` the gateway reads (the rest passes through untouched).
struct VideoSummary: Codable, Sendable {
    var videoId: String
    var status: String
}

struct ListVideos: Codable, Sendable {
    var ownerId: String?
    var status: String?
    var limit: Int?
    var after: String?
}

struct VideoPageSummary: Codable, Sendable {
    var videos: [VideoSummary]
    var next: String?
}

struct RecommendationsQuery: Codable, Sendable {
    var userId: String
    var limit: Int?
}

struct RecommendationsSummary: Codable, Sendable {
    var userId: String
}
