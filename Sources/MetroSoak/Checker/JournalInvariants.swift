public import Foundation

/// `acked-events-in-journal` and `seqs-increase-ids-unique`, over the journal as
/// read back by replay at the end of the run (`JournalReadBack`).
public enum JournalInvariants {
    /// Every acknowledged operation with an event id and a seq (views: the ACKed
    /// `video.watched`) is in the journal at that seq, with that id.
    public static func checkAcked(operations: [SoakOperation], readBack: JournalReadBack) -> InvariantVerdict {
        let bySeq = Dictionary(readBack.entries.map { ($0.seq, $0.eventId) }, uniquingKeysWith: { a, _ in a })
        var missing: [String] = []
        var examples: [String] = []
        var checked = 0
        for op in operations where op.outcome == .ok {
            guard let id = op.eventId, let seq = op.seq else { continue }
            checked += 1
            switch bySeq[seq] {
            case id?: continue
            case let other?: examples.append("\(id) at \(seq): the journal has \(other) there")
            case nil: examples.append("\(id) at \(seq): no event at that seq")
            }
            missing.append(id)
        }
        var detail = "\(checked) acknowledged events looked up among \(readBack.entries.count) read back"
        detail += readBack.caughtUpSeq.map { " (caught up at seq \($0))" } ?? ""
        detail += ": \(missing.count) missing or different"
        if !examples.isEmpty { detail += "; \(examples.sample())" }
        if !readBack.lostRanges.isEmpty {
            detail += "; retention had removed \(readBack.lostRanges.map { "\($0.lowerBound)…\($0.upperBound)" })"
        }
        if let failure = readBack.failure { detail += "; the read-back stopped short: \(failure)" }
        return SoakInvariant.ackedEventsInJournal.verdict(checked: checked, offending: missing, detail: detail)
    }

    /// The largest seq jump one broker crash may leave (protocol.md §4.1: seqs are
    /// reserved in blocks of 2^20).
    public static let crashJump: UInt64 = 1 << 20

    /// Seqs strictly increase in the order read; ids of application events are
    /// unique; a jump (a seq more than one above the one before) is allowed only as
    /// protocol.md §4.1 allows it: after a broker crash (a `kill` of the broker, or a
    /// disk failure that stopped it) or while a full disk made the broker give up
    /// seqs it had assigned (§4.2.7): the event after the jump must be stamped
    /// within such a fault's window (its start − 1 s to the system whole again
    /// + 1 s), and the jump be at most 2^20 per such fault in that window. The
    /// jump from `startSeq` to the first event read is not judged.
    public static func checkSeqs(
        readBack: JournalReadBack, faults: [SoakFault], startedAt: Date, endNs: UInt64
    ) -> InvariantVerdict {
        let startWallNs = UInt64(max(0, startedAt.timeIntervalSince1970) * 1e9)
        let slack: UInt64 = 1_000_000_000
        let windows = faults.filter { $0.target == "broker" && $0.kind != .pause }.map {
            (startWallNs + $0.startNs - min($0.startNs, slack))...(startWallNs + ($0.wholeAgainNs ?? endNs) + slack)
        }
        var offending: [String] = []
        var notes: [String] = []
        var ids: Set<String> = []
        var previous: UInt64?
        var jumps = 0
        for e in readBack.entries {
            if let p = previous {
                if e.seq <= p {
                    offending.append("seq \(e.seq)")
                    notes.append("seq \(e.seq) after \(p)")
                } else if e.seq > p + 1 {
                    jumps += 1
                    let covering = windows.filter { $0.contains(e.timeNs) }.count
                    if UInt64(covering) * crashJump < e.seq - p - 1 {
                        offending.append("seq \(p + 1)…\(e.seq - 1)")
                        notes.append(
                            "a jump from \(p) to \(e.seq) "
                                + (covering == 0 ? "outside every broker fault" : "larger than \(covering) × 2^20"))
                    }
                }
            }
            previous = max(previous ?? 0, e.seq)
            if e.hasUniqueId, !ids.insert(e.eventId).inserted {
                offending.append(e.eventId)
                notes.append("id \(e.eventId) again at seq \(e.seq)")
            }
        }
        var detail =
            "\(readBack.entries.count) events read back, \(ids.count) distinct ids, \(jumps) seq jumps "
            + "(\(windows.count) broker faults could explain jumps)"
        if !notes.isEmpty { detail += "; \(notes.sample())" }
        if let failure = readBack.failure { detail += "; the read-back stopped short: \(failure)" }
        return SoakInvariant.seqsIncreaseIdsUnique.verdict(
            checked: readBack.entries.count, offending: offending, detail: detail, failed: readBack.failure != nil)
    }
}
