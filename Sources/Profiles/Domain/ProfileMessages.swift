/// The bodies of the profiles service's rpc methods (JSON on the wire, protocol.md §6).
/// The method names and their idempotency live with the service
/// (`ProfilesAPI`); these types are shared by the service and its callers.

/// `profile.create`: a new user; the service chooses the id. Answers `User`
/// (version 1). 403 for an invalid field, 405 when the email is taken.
public struct CreateProfileRequest: Codable, Hashable, Sendable {
    public var displayName: String
    public var email: String
    public var favouriteTags: [String]?

    public init(displayName: String, email: String, favouriteTags: [String]? = nil) {
        self.displayName = displayName
        self.email = email
        self.favouriteTags = favouriteTags
    }
}

/// `profile.get` (idempotent): answers `User`, or 404.
public struct GetProfileRequest: Codable, Hashable, Sendable {
    public var id: String
    public init(id: String) { self.id = id }
}

/// `profile.update`: a partial update. Absent (or `null`) fields stay as they
/// are; at least one must be set (403 otherwise). `version` is the version the caller read; if the stored one differs the
/// update is refused with 405 (optimistic concurrency), and so is an email that
/// another user has. Answers the updated `User` (version + 1).
public struct UpdateProfileRequest: Codable, Hashable, Sendable {
    public var id: String
    public var version: Int64
    public var displayName: String?
    public var email: String?
    public var favouriteTags: [String]?

    public init(
        id: String, version: Int64, displayName: String? = nil, email: String? = nil, favouriteTags: [String]? = nil
    ) {
        self.id = id
        self.version = version
        self.displayName = displayName
        self.email = email
        self.favouriteTags = favouriteTags
    }

    /// The names of the fields this update sets, in a fixed order (for
    /// `profile.updated`'s `changed`).
    public var fieldNames: [String] {
        [
            displayName.map { _ in "displayName" }, email.map { _ in "email" },
            favouriteTags.map { _ in "favouriteTags" },
        ]
        .compactMap { $0 }
    }
}

/// `profile.history` (idempotent): a page of the user's watch history, newest
/// first (by `watchedAtMs`, then by arrival). `limit` is 1–100 (default 20);
/// `cursor` is a page's `nextCursor`, opaque to the caller.
public struct HistoryRequest: Codable, Hashable, Sendable {
    public var userId: String
    public var limit: Int?
    public var cursor: String?

    public init(userId: String, limit: Int? = nil, cursor: String? = nil) {
        self.userId = userId
        self.limit = limit
        self.cursor = cursor
    }
}

/// One page of history; `nextCursor` is absent on the last page.
public struct HistoryPage: Codable, Hashable, Sendable {
    public var entries: [WatchEntry]
    public var nextCursor: String?

    public init(entries: [WatchEntry], nextCursor: String?) {
        self.entries = entries
        self.nextCursor = nextCursor
    }
}
