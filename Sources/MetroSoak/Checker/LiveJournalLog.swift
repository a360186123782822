/// What the live journal watcher has seen, as a pure value: the event ids so far
/// of application topics (to spot a duplicate as it happens), the last seq (to spot one out of order),
/// and when each upload's outcome (`video.processed`/`video.failed`) first came,
/// for the "upload→processed" latency. The watcher feeds it; tests feed it by hand.
public struct LiveJournalLog: Sendable {
    public private(set) var lastSeq: UInt64?
    public private(set) var eventCount = 0
    /// Event ids seen twice (at different seqs), and seqs not above the one before.
    public private(set) var duplicateIds: [String] = []
    public private(set) var outOfOrderSeqs: [UInt64] = []
    /// Wall-clock ns (Unix epoch) at which each video's first outcome event was seen.
    public private(set) var outcomeSeenAtNs: [String: UInt64] = [:]
    private var ids: Set<String> = []

    public init() {}

    /// Records one event, seen at wall-clock `seenAtNs`.
    public mutating func record(_ entry: JournalEntry, seenAtNs: UInt64) {
        if let last = lastSeq, entry.seq <= last { outOfOrderSeqs.append(entry.seq) }
        lastSeq = max(lastSeq ?? 0, entry.seq)
        eventCount += 1
        if entry.hasUniqueId, !ids.insert(entry.eventId).inserted { duplicateIds.append(entry.eventId) }
        if entry.isUploadOutcome, let video = entry.videoId, outcomeSeenAtNs[video] == nil {
            outcomeSeenAtNs[video] = seenAtNs
        }
    }

    /// Violations seen so far (for the driver's progress line).
    public var violationCount: Int { duplicateIds.count + outOfOrderSeqs.count }
}
