/// The bodies of the recommendations service's rpc methods (JSON, protocol.md §6).

/// `recommendations.get` (idempotent): `limit` 1–100, default 10.
public struct GetRecommendationsRequest: Codable, Hashable, Sendable {
    public var userId: String
    public var limit: Int?
    public init(userId: String, limit: Int? = nil) {
        self.userId = userId
        self.limit = limit
    }
}

/// The ranked videos, best first, each with its score and a short reason.
public struct RecommendationList: Codable, Hashable, Sendable {
    public var userId: String
    public var items: [Ranker.Recommendation]
    public init(userId: String, items: [Ranker.Recommendation]) {
        self.userId = userId
        self.items = items
    }
}

/// `recommendations.stats` takes `{}`.
public struct StatsRequest: Codable, Hashable, Sendable {
    public init() {}
}

/// Counts of what the model holds. `videos`: catalogued; `uncataloguedVideos`:
/// watched but not (yet) processed; `users`: users with at least one view;
/// `profiles`: users whose favourite tags are known; `views`: distinct
/// `video.watched` events; `pairs`: pairs of videos watched by a common user.
public struct ModelStats: Codable, Hashable, Sendable {
    public var videos: Int
    public var uncataloguedVideos: Int
    public var users: Int
    public var profiles: Int
    public var views: Int
    public var pairs: Int
    public init(videos: Int, uncataloguedVideos: Int, users: Int, profiles: Int, views: Int, pairs: Int) {
        self.videos = videos
        self.uncataloguedVideos = uncataloguedVideos
        self.users = users
        self.profiles = profiles
        self.views = views
        self.pairs = pairs
    }
}

/// `recommendations.seen` (idempotent).
public struct SeenRequest: Codable, Hashable, Sendable {
    public var userId: String
    public init(userId: String) { self.userId = userId }
}

/// One video a user watched and how many views of it the model counted.
public struct SeenVideo: Codable, Hashable, Sendable {
    public var videoId: String
    public var count: Int
    public init(videoId: String, count: Int) {
        self.videoId = videoId
        self.count = count
    }
}

public struct SeenList: Codable, Hashable, Sendable {
    public var userId: String
    public var views: [SeenVideo]
    public init(userId: String, views: [SeenVideo]) {
        self.userId = userId
        self.views = views
    }
}
