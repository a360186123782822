import Foundation

/// Turns a consumed event into a `ModelEvent`, or says why it never can
/// (the handler dead-letters it with that reason). Pure: no I/O.
public enum EventReader {
    public struct Refusal: Error, Hashable, Sendable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// nil for a topic this service does not read (a longer topic with one of
    /// the subscribed prefixes, such as `video.watchedX`).
    public static func read(topic: String, eventId: String, payload p: ConsumedPayload) throws(Refusal) -> ModelEvent? {
        switch topic {
        case RecommendationTopics.videoWatched:
            let secondsWatched = try p.secondsWatched.map { s throws(Refusal) in try nonNegative(s, "secondsWatched") }
            return .view(
                View(
                    eventId: eventId, userId: try id(p.userId, "userId"), videoId: try id(p.videoId, "videoId"),
                    watchedAtMs: try nonNegative(p.watchedAtMs, "watchedAtMs"), secondsWatched: secondsWatched))
        case RecommendationTopics.videoProcessed:
            guard let title = p.title, !title.isEmpty else { throw Refusal("title: missing or empty") }
            guard let seconds = p.media?.durationSeconds else { throw Refusal("media.durationSeconds: missing") }
            guard seconds.isFinite, seconds >= 0 else { throw Refusal("media.durationSeconds: not a duration") }
            return .video(
                CatalogueVideo(
                    videoId: try id(p.videoId, "videoId"), title: title, tags: try tags(p.tags ?? [], "tags"),
                    durationMs: Feedback.durationMs(seconds: seconds),
                    processedAtMs: try nonNegative(p.processedAtMs, "processedAtMs"), eventId: eventId))
        case RecommendationTopics.profileCreated, RecommendationTopics.profileUpdated:
            guard let user = p.user else { throw Refusal("user: missing") }
            guard let version = user.version, version >= 1 else { throw Refusal("user.version: missing or below 1") }
            return .profile(
                ProfileTags(
                    userId: try id(user.id, "user.id"),
                    favouriteTags: try tags(user.favouriteTags ?? [], "user.favouriteTags"), version: version,
                    eventId: eventId))
        default:
            return nil
        }
    }

    /// docs/events.md §1: 1–128 bytes without white space or control characters.
    static func id(_ raw: String?, _ field: String) throws(Refusal) -> String {
        guard let raw else { throw Refusal("\(field): missing") }
        guard !raw.isEmpty, raw.utf8.count <= 128,
            !raw.unicodeScalars.contains(where: {
                $0.properties.isWhitespace || $0.properties.generalCategory == .control
            })
        else { throw Refusal("\(field): not an id (1–128 bytes, no white space)") }
        return raw
    }

    static func nonNegative(_ value: Int64?, _ field: String) throws(Refusal) -> Int64 {
        guard let value else { throw Refusal("\(field): missing") }
        guard value >= 0 else { throw Refusal("\(field): negative") }
        return value
    }

    /// Lower-cased and trimmed (as profiles stores favourite tags), repeats
    /// dropped in first-seen order; at most 50, each 1–64 characters.
    static func tags(_ raw: [String], _ field: String) throws(Refusal) -> [String] {
        var seen = Set<String>()
        var tags: [String] = []
        for item in raw {
            let tag = item.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
            guard !tag.isEmpty, tag.count <= 64 else { throw Refusal("\(field): a tag is 1–64 characters") }
            if seen.insert(tag).inserted { tags.append(tag) }
        }
        guard tags.count <= 50 else { throw Refusal("\(field): at most 50 tags") }
        return tags
    }
}
