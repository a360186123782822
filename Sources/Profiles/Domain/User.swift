/// A user's profile as stored and as returned by every `profile.*` method.
/// Times are milliseconds since the Unix epoch (UTC), so the JSON needs no date
/// format; `version` starts at 1 and grows by one with each update.
public struct User: Codable, Hashable, Sendable {
    public var id: String
    public var displayName: String
    public var email: String
    public var favouriteTags: [String]
    public var createdAtMs: Int64
    public var updatedAtMs: Int64
    public var version: Int64

    public init(
        id: String, displayName: String, email: String, favouriteTags: [String], createdAtMs: Int64,
        updatedAtMs: Int64, version: Int64
    ) {
        self.id = id
        self.displayName = displayName
        self.email = email
        self.favouriteTags = favouriteTags
        self.createdAtMs = createdAtMs
        self.updatedAtMs = updatedAtMs
        self.version = version
    }
}

/// One entry of a user's watch history: one `video.watched` event.
public struct WatchEntry: Codable, Hashable, Sendable {
    /// The id of the `video.watched` event that made this entry.
    public var eventId: String
    public var videoId: String
    public var watchedAtMs: Int64
    /// How long the user watched, if the event said.
    public var secondsWatched: Int64?

    public init(eventId: String, videoId: String, watchedAtMs: Int64, secondsWatched: Int64?) {
        self.eventId = eventId
        self.videoId = videoId
        self.watchedAtMs = watchedAtMs
        self.secondsWatched = secondsWatched
    }
}
