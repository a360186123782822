/// The events the video service publishes (docs/events.md §3.4–3.6). Each carries
/// its schema version in the event's headers (`{"schema":"1.0"}`), not in the payload.
public enum VideoTopics {
    public static let uploaded = "video.uploaded"
    public static let processed = "video.processed"
    public static let failed = "video.failed"
    public static let schema = "1.0"
    public static let schemaMajor = 1
}

/// `video.uploaded` 1.0: a video's bytes are stored; processing may start.
public struct VideoUploaded: Codable, Hashable, Sendable {
    public var videoId: String
    public var ownerId: String
    public var title: String
    public var tags: [String]
    public var contentType: String
    public var sizeBytes: Int64
    public var sourceBlobId: String
    public var uploadedAtMs: Int64

    public init(video: Video) {
        videoId = video.videoId
        ownerId = video.ownerId
        title = video.title
        tags = video.tags
        contentType = video.contentType
        sizeBytes = video.sizeBytes
        sourceBlobId = video.sourceBlobId
        uploadedAtMs = video.uploadedAtMs
    }
}

/// `video.processed` 1.0: exactly one per processed upload.
public struct VideoProcessed: Codable, Hashable, Sendable {
    public var videoId: String
    public var ownerId: String
    public var title: String
    public var tags: [String]
    public var media: MediaInfo
    public var sourceBlobId: String
    public var thumbnailBlobId: String
    public var previewBlobId: String
    public var processedAtMs: Int64
    /// Present (true) only when the synthetic step made the outputs.
    public var synthetic: Bool?

    public init(video: Video, outputs: MediaOutputs, processedAtMs: Int64) {
        videoId = video.videoId
        ownerId = video.ownerId
        title = video.title
        tags = video.tags
        media = outputs.media
        sourceBlobId = video.sourceBlobId
        thumbnailBlobId = outputs.thumbnailBlobId
        previewBlobId = outputs.previewBlobId
        self.processedAtMs = processedAtMs
        synthetic = outputs.synthetic ? true : nil
    }
}

/// `video.failed` 1.0: exactly one per upload that cannot be processed.
public struct VideoFailed: Codable, Hashable, Sendable {
    public var videoId: String
    public var ownerId: String
    public var reason: String
    public var failedAtMs: Int64

    public init(videoId: String, ownerId: String, reason: String, failedAtMs: Int64) {
        self.videoId = videoId
        self.ownerId = ownerId
        self.reason = reason
        self.failedAtMs = failedAtMs
    }
}

/// What a media step made of a source: the metadata and the two output blobs.
public struct MediaOutputs: Hashable, Sendable {
    public var media: MediaInfo
    public var thumbnailBlobId: String
    public var previewBlobId: String
    public var synthetic: Bool

    public init(media: MediaInfo, thumbnailBlobId: String, previewBlobId: String, synthetic: Bool) {
        self.media = media
        self.thumbnailBlobId = thumbnailBlobId
        self.previewBlobId = previewBlobId
        self.synthetic = synthetic
    }
}
