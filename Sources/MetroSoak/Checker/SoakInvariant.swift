/// The invariants the checker judges, by their stable names (the report and the
/// tests use them), each with its statement in words.
public enum SoakInvariant: String, Sendable, CaseIterable {
    case uploadsProcessedOnce = "uploads-processed-once"
    case viewsInHistoryOnce = "views-in-history-once"
    case viewsInModelOnce = "views-in-model-once"
    case ackedEventsInJournal = "acked-events-in-journal"
    case seqsIncreaseIdsUnique = "seqs-increase-ids-unique"
    case groupsDrain = "groups-drain"
    case requestsAnswerInDeadline = "requests-answer-in-deadline"
    case rssBounded = "rss-bounded"

    public var statement: String {
        switch self {
        case .uploadsProcessedOnce:
            "Every acknowledged upload has exactly one video.processed or video.failed in the journal."
        case .viewsInHistoryOnce:
            "Every acknowledged view (and every indeterminate one that reached the journal) appears exactly once in the user's profile.history."
        case .viewsInModelOnce:
            "For each (user, video), recommendations.seen counts each view that reached the journal exactly once."
        case .ackedEventsInJournal:
            "Every acknowledged event is in the journal, read back by replay, at its ACKed seq with its id."
        case .seqsIncreaseIdsUnique:
            "Over the run's journal, seqs strictly increase (jumps only where protocol.md §4.1 allows them) and no event id appears twice."
        case .groupsDrain:
            "After the load stops, every consumer group with members reaches lag 0 and pending 0 within the drain timeout."
        case .requestsAnswerInDeadline:
            "Every request with a deadline ends within its deadline + grace (1 s + 20%), with an answer or a clear error; none hangs."
        case .rssBounded:
            "For each process, RSS growth over the last half of the run is at most max(32 MiB, 25%), per pid."
        }
    }

    /// A verdict on this invariant: it holds when nothing offended.
    func verdict(checked: Int, offending: [String], detail: String, failed: Bool = false) -> InvariantVerdict {
        InvariantVerdict(
            name: rawValue, statement: statement, holds: offending.isEmpty && !failed, checked: checked,
            detail: detail, offending: offending, offendingCount: offending.count)
    }
}

extension Array where Element == String {
    /// The first few, for a sentence: "a, b, c (and 12 more)".
    func sample(_ n: Int = 3) -> String {
        let head = prefix(n).joined(separator: ", ")
        return count > n ? "\(head) (and \(count - n) more)" : head
    }
}
