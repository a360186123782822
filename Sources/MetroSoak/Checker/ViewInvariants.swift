/// `views-in-history-once` and `views-in-model-once`: every view that happened is
/// applied exactly once by both consumers of `video.watched`. A view "happened"
/// when it was acknowledged (`ok`), or when it was not (`failed`, `timedOut`:
/// indeterminate) but its event id is in the journal anyway.
public enum ViewInvariants {
    /// A view the invariants expect to be applied: its event id, user and video.
    struct View: Hashable {
        var eventId: String
        var userId: String
        var videoId: String
    }

    /// The views that happened: the acknowledged ones, and the others found in `journal`.
    static func happened(_ operations: [SoakOperation], journal: [JournalEntry]) -> (views: [View], indeterminate: Int)
    {
        let journaled = Set(journal.lazy.filter { $0.topic == SoakTopics.watched }.map(\.eventId))
        var views: [View] = []
        var indeterminate = 0
        for op in operations where op.kind == .view {
            guard let id = op.eventId, let user = op.userId, let video = op.videoId else { continue }
            if op.outcome == .ok {
                views.append(View(eventId: id, userId: user, videoId: video))
            } else if journaled.contains(id) {
                views.append(View(eventId: id, userId: user, videoId: video))
                indeterminate += 1
            }
        }
        return (views, indeterminate)
    }

    /// Each view that happened appears exactly once in its user's history.
    public static func checkHistory(
        operations: [SoakOperation], journal: [JournalEntry], services: ServiceSnapshot
    ) -> InvariantVerdict {
        let (views, indeterminate) = happened(operations, journal: journal)
        var missing: [String] = []
        var repeated: [String] = []
        var unreadable: Set<String> = []
        for v in views {
            switch services.histories[v.userId] {
            case .value(let counts)?:
                let n = counts[v.eventId] ?? 0
                if n == 0 { missing.append(v.eventId) } else if n > 1 { repeated.append(v.eventId) }
            case .failed?, nil:
                unreadable.insert(v.userId)
                missing.append(v.eventId)
            }
        }
        var detail =
            "\(views.count) views (\(indeterminate) of them indeterminate but journaled) over "
            + "\(Set(views.map(\.userId)).count) users: \(missing.count) missing, \(repeated.count) more than once"
        if !missing.isEmpty { detail += "; missing: \(missing.sample())" }
        if !repeated.isEmpty { detail += "; repeated: \(repeated.sample())" }
        if !unreadable.isEmpty {
            let why = unreadable.sorted().compactMap { u -> String? in
                if case .failed(let e)? = services.histories[u] { return "\(u): \(e)" }
                return nil
            }
            detail += "; \(unreadable.count) histories could not be read (\(why.sample(2)))"
        }
        return SoakInvariant.viewsInHistoryOnce.verdict(
            checked: views.count, offending: repeated + missing, detail: detail)
    }

    /// For each (user, video) with a view in the run, the model's count equals the
    /// distinct `video.watched` event ids of that pair: the views that happened, plus
    /// any other journaled view of the pair (`journal` is the run's range,
    /// `earlierViews` the journal before it, for a system that ran before the soak).
    public static func checkModel(
        operations: [SoakOperation], journal: [JournalEntry], earlierViews: [JournalEntry] = [],
        services: ServiceSnapshot
    ) -> InvariantVerdict {
        let (views, indeterminate) = happened(operations, journal: journal)
        struct Pair: Hashable, Comparable {
            var user: String
            var video: String
            static func < (a: Pair, b: Pair) -> Bool { (a.user, a.video) < (b.user, b.video) }
        }
        var expected: [Pair: Set<String>] = [:]
        for v in views { expected[Pair(user: v.userId, video: v.videoId), default: []].insert(v.eventId) }
        for e in earlierViews + journal where e.topic == SoakTopics.watched {
            guard let user = e.userId, let video = e.videoId else { continue }
            let pair = Pair(user: user, video: video)
            if expected[pair] != nil { expected[pair]!.insert(e.eventId) }
        }
        var offending: [String] = []
        var examples: [String] = []
        for pair in expected.keys.sorted() {
            let want = expected[pair]!.count
            let got: String
            switch services.seen[pair.user] {
            case .value(let counts)?:
                let n = counts[pair.video] ?? 0
                if n == want { continue }
                got = "\(n)"
            case .failed(let e)?: got = "unreadable (\(e))"
            case nil: got = "not read"
            }
            offending.append("\(pair.user)/\(pair.video)")
            examples.append("\(pair.user)/\(pair.video): \(got), expected \(want)")
        }
        var detail =
            "\(expected.count) (user, video) pairs, \(views.count) views (\(indeterminate) indeterminate but "
            + "journaled): \(offending.count) pairs counted wrongly"
        if !examples.isEmpty { detail += "; \(examples.sample())" }
        return SoakInvariant.viewsInModelOnce.verdict(checked: expected.count, offending: offending, detail: detail)
    }
}
