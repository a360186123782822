/// What the model learns from, already checked (`EventReader` makes these from
/// the four topics; `metro-reco-eval` makes them from a ratings file).
public enum ModelEvent: Hashable, Sendable {
    /// A video entered (or changed in) the catalogue: `video.processed`.
    case video(CatalogueVideo)
    /// A user watched (part of) a video: `video.watched`.
    case view(View)
    /// A profile's favourite tags at a version: `profile.created|updated`.
    case profile(ProfileTags)
}

/// A catalogue entry. Of two for one video, the one with the larger
/// (`processedAtMs`, `eventId`) wins, whatever order they arrive in.
public struct CatalogueVideo: Hashable, Sendable {
    public var videoId: String
    public var title: String
    /// Lower-cased, without repeats.
    public var tags: [String]
    public var durationMs: Int64
    public var processedAtMs: Int64
    /// The event's id: the deterministic tie-break between two versions.
    public var eventId: String

    public init(
        videoId: String, title: String, tags: [String], durationMs: Int64, processedAtMs: Int64, eventId: String
    ) {
        self.videoId = videoId
        self.title = title
        self.tags = tags
        self.durationMs = durationMs
        self.processedAtMs = processedAtMs
        self.eventId = eventId
    }
}

/// One view. Two events with the same `eventId` are one view.
public struct View: Hashable, Sendable {
    public var eventId: String
    public var userId: String
    public var videoId: String
    public var watchedAtMs: Int64
    public var secondsWatched: Int64?

    public init(eventId: String, userId: String, videoId: String, watchedAtMs: Int64, secondsWatched: Int64?) {
        self.eventId = eventId
        self.userId = userId
        self.videoId = videoId
        self.watchedAtMs = watchedAtMs
        self.secondsWatched = secondsWatched
    }
}

/// A user's favourite tags at `version`; the highest (`version`, `eventId`) wins
/// (docs/events.md §3.2).
public struct ProfileTags: Hashable, Sendable {
    public var userId: String
    public var favouriteTags: [String]
    public var version: Int64
    public var eventId: String

    public init(userId: String, favouriteTags: [String], version: Int64, eventId: String) {
        self.userId = userId
        self.favouriteTags = favouriteTags
        self.version = version
        self.eventId = eventId
    }
}

/// Which of two versions of a record wins: the larger (`order`, `eventId`).
/// A total order on what the events carry, so the winner does not depend on
/// which arrived first.
public enum VersionRule {
    public static func wins(_ new: (order: Int64, eventId: String), over old: (order: Int64, eventId: String)?) -> Bool
    {
        guard let old else { return true }
        return new.order != old.order ? new.order > old.order : new.eventId > old.eventId
    }
}
