public import Foundation
public import MetroProtocol

/// One event as the checker keeps it: what the invariants need of the journal,
/// without the payload (a long soak journals hundreds of thousands of events).
public struct JournalEntry: Sendable, Equatable, Codable {
    public var seq: UInt64
    /// The publisher's event id; empty for fire-and-forget events (protocol.md §4.1).
    public var eventId: String
    public var topic: String
    /// The broker's wall clock when it accepted the event, ns since the Unix epoch.
    public var timeNs: UInt64
    /// `videoId` of `video.*` payloads.
    public var videoId: String?
    /// `userId` of `video.watched` payloads.
    public var userId: String?

    public init(
        seq: UInt64, eventId: String, topic: String, timeNs: UInt64 = 0, videoId: String? = nil, userId: String? = nil
    ) {
        self.seq = seq
        self.eventId = eventId
        self.topic = topic
        self.timeNs = timeNs
        self.videoId = videoId
        self.userId = userId
    }

    /// The entry of a journaled event; the ids are read from the payloads of the
    /// topics the invariants look into (docs/events.md §3.3–3.6), others are skipped.
    public init(event: LiveEvent) {
        self.init(
            seq: event.seq, eventId: String(decoding: event.eventID, as: UTF8.self), topic: event.topic,
            timeNs: event.time)
        guard Self.topicsWithIds.contains(event.topic),
            let ids = try? JSONDecoder().decode(PayloadIds.self, from: Data(event.payload))
        else { return }
        videoId = ids.videoId
        userId = event.topic == SoakTopics.watched ? ids.userId : nil
    }

    private static let topicsWithIds: Set<String> = [
        SoakTopics.watched, SoakTopics.processed, SoakTopics.failed, SoakTopics.uploaded,
    ]

    /// The members every one of those payloads names at its top level.
    private struct PayloadIds: Decodable {
        var videoId: String?
        var userId: String?
    }

    /// Whether the id must be unique in the journal: an acknowledged publish on an
    /// application topic. Fire-and-forget events have no id, and reserved topics
    /// repeat ids on purpose: a dead letter (`$metro.dead.<group>`) carries the
    /// original event's id, and a second rejection a second one (protocol.md §4.10).
    public var hasUniqueId: Bool { !eventId.isEmpty && !topic.hasPrefix("$") }

    /// `video.processed` or `video.failed`: the outcome of an upload.
    public var isUploadOutcome: Bool { topic == SoakTopics.processed || topic == SoakTopics.failed }
}

/// The topics the checker reads (docs/events.md §3).
public enum SoakTopics {
    public static let watched = "video.watched"
    public static let uploaded = "video.uploaded"
    public static let processed = "video.processed"
    public static let failed = "video.failed"
}
