/// A video as stored and as every `video.*` method returns it (docs/events.md §1:
/// lowerCamelCase, times in ms since the epoch). Optional members are left out
/// of the JSON when absent.
public struct Video: Codable, Hashable, Sendable {
    public var videoId: String
    public var ownerId: String
    public var title: String
    public var tags: [String]
    public var status: VideoStatus
    public var contentType: String
    public var sizeBytes: Int64
    /// The uploaded bytes' blob id (lowercase hex SHA-256).
    public var sourceBlobId: String
    public var uploadedAtMs: Int64
    public var updatedAtMs: Int64
    /// Set once `processed`.
    public var media: MediaInfo?
    public var thumbnailBlobId: String?
    public var previewBlobId: String?
    /// Set once `failed`: why (ffprobe's or ffmpeg's stderr, a timeout).
    public var failureReason: String?
    /// True when the synthetic step (`--synthetic-work-ms`) made the outputs.
    public var synthetic: Bool?

    public init(
        videoId: String, ownerId: String, title: String, tags: [String], status: VideoStatus, contentType: String,
        sizeBytes: Int64, sourceBlobId: String, uploadedAtMs: Int64, updatedAtMs: Int64
    ) {
        self.videoId = videoId
        self.ownerId = ownerId
        self.title = title
        self.tags = tags
        self.status = status
        self.contentType = contentType
        self.sizeBytes = sizeBytes
        self.sourceBlobId = sourceBlobId
        self.uploadedAtMs = uploadedAtMs
        self.updatedAtMs = updatedAtMs
    }
}

/// Where a video is in its life: `uploaded → processing → processed | failed`.
/// `processing` may be entered again (a job that crashed runs again on
/// redelivery); `processed` and `failed` are final.
public enum VideoStatus: String, Codable, Hashable, Sendable, CaseIterable {
    case uploaded, processing, processed, failed

    /// Whether a video in this status may move to `next`.
    public func allows(_ next: VideoStatus) -> Bool {
        switch (self, next) {
        case (.uploaded, .processing), (.processing, .processing): true
        case (.uploaded, .processed), (.uploaded, .failed): true
        case (.processing, .processed), (.processing, .failed): true
        default: false
        }
    }

    public var isFinal: Bool { self == .processed || self == .failed }
}

/// What ffprobe read from the source (or the synthetic step made up).
public struct MediaInfo: Codable, Hashable, Sendable {
    public var durationSeconds: Double
    public var width: Int
    public var height: Int
    public var videoCodec: String
    public var audioCodec: String?
    /// Bits per second of the whole file (ffprobe's `format.bit_rate`; 0 when it does not say).
    public var bitRate: Int64
    public var frameRate: Double

    public init(
        durationSeconds: Double, width: Int, height: Int, videoCodec: String, audioCodec: String?, bitRate: Int64,
        frameRate: Double
    ) {
        self.durationSeconds = durationSeconds
        self.width = width
        self.height = height
        self.videoCodec = videoCodec
        self.audioCodec = audioCodec
        self.bitRate = bitRate
        self.frameRate = frameRate
    }
}
