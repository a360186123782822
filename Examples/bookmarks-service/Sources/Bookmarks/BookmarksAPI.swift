public import MetroKit

/// `bookmark.add`: bookmarks a video for a user (adding it twice is harmless).
public struct AddBookmark: Codable, Hashable, Sendable {
    public var userId: String
    public var videoId: String
    public init(userId: String, videoId: String) {
        self.userId = userId
        self.videoId = videoId
    }
}

/// `bookmark.list`: a user's bookmarks, newest first, with each video's view count.
public struct ListBookmarks: Codable, Hashable, Sendable {
    public var userId: String
    public init(userId: String) { self.userId = userId }
}

public struct Bookmark: Codable, Hashable, Sendable {
    public var videoId: String
    public var createdAtMs: Int64
    /// How many `video.watched` events this service has counted for the video.
    public var views: Int64
}

public struct BookmarkList: Codable, Hashable, Sendable {
    public var bookmarks: [Bookmark]
}

/// The event this service publishes when a bookmark is new (topic `bookmark.added`).
public struct BookmarkAdded: Codable, Hashable, Sendable {
    public var userId: String
    public var videoId: String
}

/// The part of `video.watched` (docs/events.md) this service reads; other
/// members are ignored.
public struct VideoWatched: Codable, Hashable, Sendable {
    public var userId: String
    public var videoId: String
}

/// Name, types and retry safety of each method, shared with callers.
public enum BookmarksAPI {
    public static let add = RpcMethod<AddBookmark, Bookmark>("bookmark.add")
    public static let list = RpcMethod<ListBookmarks, BookmarkList>("bookmark.list", idempotent: true)
}
