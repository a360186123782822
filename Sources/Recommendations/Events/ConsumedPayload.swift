/// The four consumed topics and the schema major this service reads.
public enum RecommendationTopics {
    public static let videoProcessed = "video.processed"
    public static let videoWatched = "video.watched"
    public static let profileCreated = "profile.created"
    public static let profileUpdated = "profile.updated"
    public static let all = [videoProcessed, videoWatched, profileCreated, profileUpdated]
    public static let schemaMajor = 1
}

/// One payload type for the four topics: the runtime's consumer group takes one
/// handler and one decoded type per group (a group's topic prefixes are fixed
/// when it is created, protocol.md §4.10), so the members of all four payloads
/// are here, each optional, and `EventReader` checks by topic which ones must
/// be present. Decoding stays strict (integers are JSON integers, no duplicate
/// keys); members of other versions are ignored (docs/events.md §1).
public struct ConsumedPayload: Codable, Hashable, Sendable {
    // video.processed (docs/events.md §3.5) and video.watched (§3.3)
    public var videoId: String?
    public var ownerId: String?
    public var title: String?
    public var tags: [String]?
    public var media: Media?
    public var processedAtMs: Int64?
    public var userId: String?
    public var watchedAtMs: Int64?
    public var secondsWatched: Int64?
    // profile.created / profile.updated (§3.1, §3.2)
    public var user: ProfileUser?

    public struct Media: Codable, Hashable, Sendable {
        public var durationSeconds: Double?
    }

    public struct ProfileUser: Codable, Hashable, Sendable {
        public var id: String?
        public var favouriteTags: [String]?
        public var version: Int64?
    }
}
