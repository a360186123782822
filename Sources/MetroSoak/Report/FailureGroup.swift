/// The operations that did not succeed, grouped by kind and cause, and set against
/// the fault timeline: what an operator reads first after a chaos run is whether
/// anything failed *outside* the faults, where no failure is expected.
///
/// A cause is the operation's error text with the ids in it (UUIDs) replaced by
/// `<id>`, so that 300 `407 publish-pending: video <id>` make one row; a timeout
/// without a text is "no answer within the deadline". An operation is *during* a
/// fault when its run overlaps the fault's window, from the injection until the
/// system was whole again (the end of the run when it never was). An arrival not
/// started has no run: it is during the faults that the operations of its kind
/// then in flight overlapped (it waited behind them), which also covers the
/// backlog that drains just after a fault. A request the gateway shed as
/// overloaded (429) is during the faults its own run overlapped and those the
/// operations of its kind then in flight overlapped: they held the service's
/// permits. A 2-minute chaos run (seed 41, 2026-12-05) had 34 uploads shed in the
/// 3 s after a full broker disk was whole again, each while uploads stuck in
/// that fault still held the video service's permits, and the report called
/// them failures outside any fault, the column an operator reads first.
public struct FailureGroup: Codable, Sendable, Equatable {
    /// The operation kind (`SoakOperation.Kind`).
    public var kind: String
    /// `failed`, `timedOut` or `notStarted` (the soak's in-flight limit was full).
    public var outcome: String
    public var cause: String
    public var count: Int
    /// The faults (`F1`, `F2`, … in timeline order) that any of them overlapped.
    public var duringFaults: [String]
    /// How many overlapped no fault at all.
    public var outsideFaults: Int

    /// At most `limit` groups, the largest first (ties: kind, then cause).
    static func build(
        _ operations: [SoakOperation], faults: [SoakFault], runEndNs: UInt64, limit: Int = 30
    ) -> [FailureGroup] {
        let windows = faults.sorted { $0.startNs < $1.startNs }.enumerated().map { index, fault in
            (label: "F\(index + 1)", from: fault.startNs, to: max(fault.startNs, fault.wholeAgainNs ?? runEndNs))
        }
        struct Key: Hashable {
            var kind: String
            var outcome: String
            var cause: String
        }
        func faultsOverlapped(by op: SoakOperation) -> [String] {
            windows.filter { op.startNs <= $0.to && op.endNs >= $0.from }.map(\.label)
        }
        // The sent operations of each kind by start, and the longest, to find those in flight at a time.
        let sent = Dictionary(grouping: operations.filter { !$0.notStarted }, by: \.kind)
            .mapValues { $0.sorted { $0.startNs < $1.startNs } }
        let longest = sent.mapValues { $0.map { $0.endNs &- $0.startNs }.max() ?? 0 }
        func faultsWaitedOn(by op: SoakOperation) -> [String] {
            guard let ops = sent[op.kind] else { return [] }
            let earliest = op.startNs &- min(op.startNs, longest[op.kind] ?? 0)
            var low = 0
            var high = ops.count
            while low < high {
                let mid = (low + high) / 2
                if ops[mid].startNs < earliest { low = mid + 1 } else { high = mid }
            }
            var hit = Set<String>()
            for other in ops[low...] {
                if other.startNs > op.startNs { break }
                if other.endNs >= op.startNs { hit.formUnion(faultsOverlapped(by: other)) }
            }
            return Array(hit)
        }
        var groups: [Key: (count: Int, faults: Set<String>, outside: Int)] = [:]
        for op in operations where op.outcome != .ok {
            let outcome = op.notStarted ? "notStarted" : op.outcome.rawValue
            let key = Key(kind: op.kind.rawValue, outcome: outcome, cause: cause(of: op))
            let hit =
                op.notStarted
                ? faultsWaitedOn(by: op)
                : SoakReport.isOverload(key.cause)
                    ? Array(Set(faultsOverlapped(by: op) + faultsWaitedOn(by: op))) : faultsOverlapped(by: op)
            var group = groups[key] ?? (0, [], 0)
            group.count += 1
            group.faults.formUnion(hit)
            if hit.isEmpty { group.outside += 1 }
            groups[key] = group
        }
        let order = Dictionary(uniqueKeysWithValues: windows.enumerated().map { ($0.element.label, $0.offset) })
        return groups.map { key, group in
            FailureGroup(
                kind: key.kind, outcome: key.outcome, cause: key.cause, count: group.count,
                duringFaults: group.faults.sorted { order[$0, default: 0] < order[$1, default: 0] },
                outsideFaults: group.outside)
        }
        .sorted { ($1.count, $0.kind, $0.cause) < ($0.count, $1.kind, $1.cause) }
        .prefix(limit).map { $0 }
    }

    /// The error text with its UUIDs as `<id>`, at most 160 characters.
    static func cause(of op: SoakOperation) -> String {
        guard let text = op.error, !text.isEmpty else {
            return op.outcome == .timedOut ? "no answer within the deadline" : "(no error text)"
        }
        let uuid = /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/
        let cause = text.replacing(uuid, with: "<id>")
        return cause.count > 160 ? String(cause.prefix(159)) + "…" : cause
    }
}

extension SoakOperation {
    /// An arrival the soak did not send because `--concurrency` operations were in
    /// flight (`SoakLoad`): the load generator's limit, not the system's answer.
    public var notStarted: Bool { error?.hasPrefix(HistoryRecorder.saturatedPrefix) == true }
}
