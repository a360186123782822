/// `requests-answer-in-deadline`: a request with a deadline (rpc or HTTP, and every
/// recommendation request) gives control back within its deadline plus a grace of
/// 1 s + 20% of the deadline (the caller's timer, a loaded 2-core machine's
/// scheduling, an HTTP round trip), with an answer or a clear error. An operation
/// that ends by its deadline without an answer (`timedOut`) did not hang: the
/// deadline is the clear error. One that took longer did, whatever its outcome;
/// so did a failure without an error text.
public enum DeadlineInvariant {
    /// The grace after `deadlineMs`, in ms.
    public static func graceMs(deadlineMs: UInt32) -> UInt64 { 1000 + UInt64(deadlineMs) / 5 }

    public static func check(operations: [SoakOperation]) -> InvariantVerdict {
        var hung: [String] = []
        var examples: [String] = []
        var checked = 0
        var byDeadline = 0
        var withoutDeadline = 0
        var notStarted = 0
        for (i, op) in operations.enumerated() where op.deadlineMs != nil || op.kind == .recommend {
            // Never sent (the soak's in-flight limit was full): nothing to judge.
            if op.notStarted {
                notStarted += 1
                continue
            }
            checked += 1
            let name = op.eventId ?? "\(op.kind.rawValue)#\(i)@\(op.startNs / 1_000_000)ms"
            let tookMs = Double(op.endNs &- op.startNs) / 1e6
            if op.outcome == .failed, (op.error ?? "").isEmpty {
                hung.append(name)
                examples.append("\(name) failed without an error text")
                continue
            }
            guard let deadline = op.deadlineMs else {
                withoutDeadline += 1
                continue
            }
            if op.outcome == .timedOut { byDeadline += 1 }
            if tookMs > Double(UInt64(deadline) + graceMs(deadlineMs: deadline)) {
                hung.append(name)
                examples.append("\(name) (\(op.via)) took \(Int(tookMs)) ms with a deadline of \(deadline) ms")
            }
        }
        var detail = "\(checked) requests: \(hung.count) hung or failed without a clear error"
        if byDeadline > 0 { detail += "; \(byDeadline) ended by their deadline without an answer (not a hang)" }
        if withoutDeadline > 0 { detail += "; \(withoutDeadline) recommendation requests had no deadline to judge" }
        if notStarted > 0 { detail += "; \(notStarted) not started (the in-flight limit was full), not judged" }
        if !examples.isEmpty { detail += "; \(examples.sample())" }
        return SoakInvariant.requestsAnswerInDeadline.verdict(checked: checked, offending: hung, detail: detail)
    }
}
