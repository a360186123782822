import Foundation

@testable import MetroSoak

/// Hand-made histories and journals for the checker's rules.
enum Fixture {
    static func upload(_ video: String?, _ outcome: SoakOperation.Outcome = .ok) -> SoakOperation {
        SoakOperation(kind: .upload, startNs: 0, endNs: 1_000_000, outcome: outcome, videoId: video, via: "rpc")
    }

    static func view(
        _ id: String, user: String = "u-1", video: String = "v-1", seq: UInt64? = nil,
        _ outcome: SoakOperation.Outcome = .ok
    ) -> SoakOperation {
        SoakOperation(
            kind: .view, startNs: 0, endNs: 1_000_000, outcome: outcome, userId: user, videoId: video, eventId: id,
            seq: outcome == .ok ? seq : nil, via: "broker")
    }

    static func watched(_ seq: UInt64, _ id: String, user: String = "u-1", video: String = "v-1") -> JournalEntry {
        JournalEntry(seq: seq, eventId: id, topic: "video.watched", videoId: video, userId: user)
    }

    static func processed(_ seq: UInt64, _ id: String, video: String) -> JournalEntry {
        JournalEntry(seq: seq, eventId: id, topic: "video.processed", videoId: video)
    }

    static func event(_ seq: UInt64, _ id: String, topic: String = "profile.created", timeNs: UInt64 = 0)
        -> JournalEntry
    {
        JournalEntry(seq: seq, eventId: id, topic: topic, timeNs: timeNs)
    }

    static func history(_ counts: [String: [String: Int]]) -> ServiceSnapshot {
        ServiceSnapshot(histories: counts.mapValues { .value($0) })
    }

    static func seen(_ counts: [String: [String: Int]]) -> ServiceSnapshot {
        ServiceSnapshot(seen: counts.mapValues { .value($0) })
    }
}
