import MetroProtocol

/// The broker's counters, owned by its loop thread (plain stores, no atomics on
/// the hot path). Published as `BrokerStats` through the consume socket.
final class BrokerCounters {
    /// Why a message was dropped; the label of `metro_broker_dropped_total`.
    enum DropCause: String, CaseIterable {
        case publishMalformed = "publish_malformed"
        case publishInvalidTopic = "publish_invalid_topic"
        case publishTooLarge = "publish_too_large"
        case publishJournalFailure = "publish_journal_failure"
        case ackUnroutable = "ack_unroutable"
        case ackHighWaterMark = "ack_hwm"
        case replyUnroutable = "reply_unroutable"
        case eventsHighWaterMark = "events_hwm"
        /// A fire-and-forget event whose publisher may not publish its topic (§7.8).
        case publishForbidden = "publish_forbidden"

        /// The publish socket's cause for a message `PublishCodec` refuses.
        init(_ cause: PublishCodec.DropCause) {
            switch cause {
            case .malformed: self = .publishMalformed
            case .invalidTopic: self = .publishInvalidTopic
            case .tooLarge: self = .publishTooLarge
            }
        }

        /// The cause's counter in `dropped` (its place in `allCases`).
        var slot: Int {
            switch self {
            case .publishMalformed: 0
            case .publishInvalidTopic: 1
            case .publishTooLarge: 2
            case .publishJournalFailure: 3
            case .ackUnroutable: 4
            case .ackHighWaterMark: 5
            case .replyUnroutable: 6
            case .eventsHighWaterMark: 7
            case .publishForbidden: 8
            }
        }
    }

    var received: UInt64 = 0
    var accepted: UInt64 = 0
    var acked: UInt64 = 0
    var deduplicated: UInt64 = 0
    var delivered: UInt64 = 0
    var rejected: UInt64 = 0
    var dropped = [UInt64](repeating: 0, count: DropCause.allCases.count)
    var subscriptions = 0
    var replaysStarted: UInt64 = 0
    var replayed: UInt64 = 0
    /// Replays ended by a damaged journal record (ERROR 206).
    var replaysDamaged: UInt64 = 0
    var groupDelivered: UInt64 = 0
    /// Peer disconnections per socket (ingest, publish, events, consume), from the monitors.
    var disconnects: [UInt64] = [0, 0, 0, 0]
    /// Events in and out by topic prefix (bounded, §4.5).
    let topics = TopicCounters()

    @inline(__always)
    func drop(_ cause: DropCause, _ n: UInt64 = 1) {
        dropped[cause.slot] &+= n
    }

    func snapshot(
        journalBytes: UInt64, fsyncs: UInt64, fsyncNanoseconds: UInt64, headSeq: UInt64, durableSeq: UInt64,
        segments: Int,
        activeReplays: Int = 0, groups: [String: GroupStats] = [:], journalSizeBytes: UInt64 = 0, rssBytes: UInt64 = 0,
        firstSeq: UInt64 = 0, scrub: ScrubStats? = nil
    )
        -> BrokerStats
    {
        var s = BrokerStats()
        s.received = received
        s.accepted = accepted
        s.acked = acked
        s.deduplicated = deduplicated
        s.delivered = delivered
        s.rejected = rejected
        for cause in DropCause.allCases { s.dropped[cause.rawValue] = dropped[cause.slot] }
        s.journalBytes = journalBytes
        s.fsyncs = fsyncs
        s.fsyncNanoseconds = fsyncNanoseconds
        s.headSeq = headSeq
        s.firstSeq = firstSeq
        s.durableSeq = durableSeq
        s.segments = segments
        s.subscriptions = subscriptions
        s.replays = replaysStarted
        s.replayed = replayed
        s.activeReplays = activeReplays
        s.damagedReplays = replaysDamaged
        s.scrub = scrub
        s.groups = groups
        (s.topics, s.otherTopics) = topics.snapshot()
        s.journalSizeBytes = journalSizeBytes
        s.rssBytes = rssBytes
        for (i, name) in BrokerEngine.socketNames.enumerated() { s.disconnects[name] = disconnects[i] }
        return s
    }
}
