/// `uploads-processed-once`: the journal holds exactly one outcome event
/// (`video.processed` or `video.failed`, counted by distinct event id) for each
/// acknowledged upload, and at most one for any other upload whose video id is known.
/// An outcome event journaled twice under one id counts once here (the detail
/// says so); `seqs-increase-ids-unique` fails on it.
public enum UploadInvariant {
    public static func check(operations: [SoakOperation], journal: [JournalEntry]) -> InvariantVerdict {
        var outcomeIds: [String: Set<String>] = [:]
        var seqsById: [String: Int] = [:]
        for e in journal where e.isUploadOutcome {
            guard let video = e.videoId else { continue }
            outcomeIds[video, default: []].insert(e.eventId)
            seqsById[e.eventId, default: 0] += 1
        }
        let duplicated = seqsById.filter { $0.value > 1 }.keys.sorted()
        let uploads = operations.filter { $0.kind == .upload }
        var missing: [String] = []
        var twice: [String] = []
        var unknownId = 0
        var checked = 0
        for op in uploads {
            guard let video = op.videoId else {
                if op.outcome == .ok { unknownId += 1 }
                continue
            }
            checked += 1
            let n = outcomeIds[video]?.count ?? 0
            if n > 1 {
                twice.append(video)
            } else if n == 0 && op.outcome == .ok {
                missing.append(video)
            }
        }
        var detail =
            "\(checked) uploads with a video id (\(uploads.filter { $0.outcome == .ok }.count) acknowledged): "
            + "\(missing.count) without an outcome, \(twice.count) with more than one"
        if !missing.isEmpty { detail += "; no outcome: \(missing.sample())" }
        if !twice.isEmpty { detail += "; several outcomes: \(twice.sample())" }
        detail +=
            duplicated.isEmpty
            ? "; no outcome event id appeared twice"
            : "; outcome event ids journaled twice (the same event at two seqs): \(duplicated.sample())"
        if unknownId > 0 { detail += "; \(unknownId) acknowledged uploads had no video id to check" }
        return SoakInvariant.uploadsProcessedOnce.verdict(
            checked: checked, offending: missing + twice, detail: detail)
    }
}
