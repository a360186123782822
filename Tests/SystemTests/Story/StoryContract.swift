import MetroKit

/// The video and recommendations methods as issue 15's contract (spec15 §B, §C)
/// fixes them, declared here as a caller that does not import the services
/// would: the story tests check the services' wire shapes, not their Swift types.
/// Responses decode with only the fields the tests read (readers ignore the rest).
enum StoryAPI {
    struct UploadBegin: Codable, Sendable {
        var ownerId: String
        var title: String
        var tags: [String]?
        var contentType: String?
        var sizeBytes: Int?
    }
    struct UploadBegun: Codable, Sendable {
        var uploadId: String
        var maxChunkBytes: Int
    }
    struct UploadChunk: Codable, Sendable {
        var uploadId: String
        var offset: Int
        /// Base64 of the chunk's bytes.
        var data: String
    }
    struct UploadReceived: Codable, Sendable {
        var uploadId: String
        var receivedBytes: Int
    }
    struct UploadFinish: Codable, Sendable {
        var uploadId: String
        var sha256: String?
    }
    /// `video.upload` in one call: the bytes inline (`data`, base64, at most 512 KiB).
    struct Upload: Codable, Sendable {
        var ownerId: String
        var title: String
        var tags: [String]?
        var contentType: String?
        var data: String?
    }
    struct VideoID: Codable, Sendable { var videoId: String }
    struct MediaInfo: Codable, Sendable {
        var durationSeconds: Double
        var width: Int
        var height: Int
        var videoCodec: String
        var audioCodec: String?
    }
    struct Video: Codable, Sendable {
        var videoId: String
        var ownerId: String
        var title: String
        var tags: [String]
        var status: String
        var sizeBytes: Int
        var sourceBlobId: String
        var media: MediaInfo?
        var thumbnailBlobId: String?
        var previewBlobId: String?
        var failureReason: String?
    }
    struct RecommendationsRequest: Codable, Sendable {
        var userId: String
        var limit: Int?
    }
    struct Item: Codable, Sendable {
        var videoId: String
        var title: String
        var score: Double
        var reason: String
    }
    struct Recommendations: Codable, Sendable {
        var userId: String
        var items: [Item]
    }
    struct Empty: Codable, Sendable {}
    struct Stats: Codable, Sendable {
        var videos: Int
        var users: Int
        var views: Int
    }

    static let upload = RpcMethod<Upload, Video>("video.upload")
    static let begin = RpcMethod<UploadBegin, UploadBegun>("video.upload.begin")
    static let chunk = RpcMethod<UploadChunk, UploadReceived>("video.upload.chunk", idempotent: true)
    static let finish = RpcMethod<UploadFinish, Video>("video.upload.finish", idempotent: true)
    static let get = RpcMethod<VideoID, Video>("video.get", idempotent: true)
    static let recommendations = RpcMethod<RecommendationsRequest, Recommendations>(
        "recommendations.get", idempotent: true)
    static let stats = RpcMethod<Empty, Stats>("recommendations.stats", idempotent: true)
}
