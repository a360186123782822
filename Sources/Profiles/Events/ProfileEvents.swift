/// The payloads of the events the profiles service publishes and consumes, as
/// docs/events.md defines them. Each carries its schema version in the event's
/// headers (`{"schema":"1.0"}`, docs/events.md), not in the payload.

/// Topics and schema versions, in one place.
public enum ProfileTopics {
    public static let created = "profile.created"
    public static let updated = "profile.updated"
    public static let videoWatched = "video.watched"
    /// The schema (major.minor) this code writes and, by major, reads.
    public static let schema = "1.0"
    public static let schemaMajor = 1
}

/// `profile.created` 1.0: the user as created.
public struct ProfileCreated: Codable, Hashable, Sendable {
    public var user: User
    public init(user: User) { self.user = user }
}

/// `profile.updated` 1.0: the user after the update, and which fields the
/// update set (`displayName`, `email`, `favouriteTags`).
public struct ProfileUpdated: Codable, Hashable, Sendable {
    public var user: User
    public var changed: [String]
    public init(user: User, changed: [String]) {
        self.user = user
        self.changed = changed
    }
}

/// `video.watched` 1.0: a user watched (part of) a video. Published by the
/// gateway or a player; consumed by profiles (history) and, next issue,
/// recommendations.
public struct VideoWatched: Codable, Hashable, Sendable {
    public var userId: String
    public var videoId: String
    public var watchedAtMs: Int64
    public var secondsWatched: Int64?

    public init(userId: String, videoId: String, watchedAtMs: Int64, secondsWatched: Int64? = nil) {
        self.userId = userId
        self.videoId = videoId
        self.watchedAtMs = watchedAtMs
        self.secondsWatched = secondsWatched
    }
}
