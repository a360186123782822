public import Foundation

extension SoakReport {
    /// Sums up a run. Pure: the same inputs give the same report.
    ///
    /// - Totals count every operation by outcome, the arrivals the soak did not send
    ///   apart; rates are over the load's span (first operation's start to last one's end).
    /// - Failures: `FailureGroup`, against the faults' windows.
    /// - Latencies: `publish→ACK` is start→end of acknowledged views; `upload→processed`
    ///   and `view→visible` are the checker's samples; every other kind gives
    ///   `<via> <kind>` (start→end of its ok operations). Failed and timed-out
    ///   operations are counted in the totals, not in latencies (a timeout's latency
    ///   is its deadline, not the system's).
    /// - Processes: see `ProcessReport` for restarts, CPU % and RSS growth.
    public static func build(
        configuration: SoakConfiguration, history: SoakHistory, checker: CheckerResult, finishedAt: Date
    ) -> SoakReport {
        let runSeconds = Self.runSeconds(history)
        let processes = Dictionary(grouping: history.samples, by: \.name)
            .map { ProcessReport.build(name: $0.key, samples: $0.value, runSeconds: runSeconds) }
            .sorted { $0.name < $1.name }
        let faults = history.faults.sorted { $0.startNs < $1.startNs }.map { fault in
            FaultEntry(
                kind: fault.kind.rawValue, target: fault.target, atSeconds: Double(fault.startNs) / 1e9,
                durationSeconds: Double(fault.endNs - min(fault.startNs, fault.endNs)) / 1e9,
                recoverySeconds: fault.wholeAgainNs.map { Double($0 - min(fault.startNs, $0)) / 1e9 },
                recovered: fault.wholeAgainNs != nil, detail: fault.detail)
        }
        var invariants = checker.verdicts
        for name in expectedInvariants where !invariants.contains(where: { $0.name == name }) {
            invariants.append(
                InvariantVerdict(
                    name: name, statement: "(the checker gave no verdict)", holds: false, checked: 0,
                    detail: "not checked: the checker reported no verdict for this invariant"))
        }
        return SoakReport(
            version: 2, startedAt: history.startedAt, finishedAt: finishedAt, runSeconds: runSeconds,
            configuration: configuration, reproduce: reproduceCommand(configuration),
            totals: totals(history.operations),
            failures: FailureGroup.build(
                history.operations, faults: history.faults, runEndNs: UInt64(runSeconds * 1e9)),
            latencies: latencies(history.operations, checker: checker),
            faults: faults, processes: processes, invariants: invariants,
            passed: !invariants.isEmpty && invariants.allSatisfy(\.holds))
    }

    static func runSeconds(_ history: SoakHistory) -> Double {
        var endNs: UInt64 = 0
        for op in history.operations { endNs = max(endNs, op.endNs) }
        for sample in history.samples { endNs = max(endNs, sample.tNs) }
        for fault in history.faults { endNs = max(endNs, fault.endNs, fault.wholeAgainNs ?? 0) }
        return Double(endNs) / 1e9
    }

    static func totals(_ operations: [SoakOperation]) -> SoakTotals {
        let firstNs = operations.map(\.startNs).min() ?? 0
        let lastNs = operations.map(\.endNs).max() ?? 0
        let seconds = Double(lastNs - min(firstNs, lastNs)) / 1e9
        func row(_ kind: String, _ ops: [SoakOperation]) -> OperationTotals {
            let ok = ops.count { $0.outcome == .ok }
            let notStarted = ops.count(where: \.notStarted)
            let sent = ops.count - notStarted
            return OperationTotals(
                kind: kind, sent: sent, ok: ok, failed: ops.count { $0.outcome == .failed && !$0.notStarted },
                timedOut: ops.count { $0.outcome == .timedOut }, notStarted: notStarted,
                sentPerSecond: seconds > 0 ? Double(sent) / seconds : 0,
                okPerSecond: seconds > 0 ? Double(ok) / seconds : 0)
        }
        let byKind = Dictionary(grouping: operations, by: \.kind)
        return SoakTotals(
            loadSeconds: seconds,
            byKind: SoakOperation.Kind.allCases.map { row($0.rawValue, byKind[$0] ?? []) },
            overall: row("all", operations))
    }

    static func latencies(_ operations: [SoakOperation], checker: CheckerResult) -> [LatencySummary] {
        var result: [LatencySummary] = []
        func add(_ name: String, _ ops: [SoakOperation]) {
            let timed = ops.map { (atSeconds: Double($0.startNs) / 1e9, ms: Double($0.endNs &- $0.startNs) / 1e6) }
            if let summary = LatencySummary.summarize(name: name, samplesMs: timed.map(\.ms), timed: timed) {
                result.append(summary)
            }
        }
        let ok = operations.filter { $0.outcome == .ok && $0.endNs >= $0.startNs }
        add("publish→ACK", ok.filter { $0.kind == .view })
        for name in ["upload→processed", "view→visible"] {
            if let summary = LatencySummary.summarize(name: name, samplesMs: checker.latenciesMs[name] ?? []) {
                result.append(summary)
            }
        }
        // Latencies the checker measured under other names: shown, never dropped.
        for (name, samples) in checker.latenciesMs.sorted(by: { $0.key < $1.key })
        where name != "upload→processed" && name != "view→visible" {
            if let summary = LatencySummary.summarize(name: name, samplesMs: samples) { result.append(summary) }
        }
        for kind in SoakOperation.Kind.allCases where kind != .view {
            let ofKind = ok.filter { $0.kind == kind }
            for via in Set(ofKind.map(\.via)).sorted() {
                add("\(via) \(kind.rawValue)", ofKind.filter { $0.via == via })
            }
        }
        return result
    }

    /// `metro soak` with the flags that repeat the run: the seed makes the load and the
    /// chaos schedule the same; instances go to `metro up`'s flags.
    static func reproduceCommand(_ configuration: SoakConfiguration) -> String {
        var words = ["metro", "soak"]
        if configuration.attached { words += ["--attach"] + (configuration.attachFlags ?? []) }
        words += ["--rate", compactNumber(configuration.targetRate)]
        words += ["--duration", "\(compactNumber(configuration.durationSeconds))s"]
        if configuration.chaos { words.append("--chaos") }
        if configuration.isSecure && !configuration.attached { words.append("--secure") }
        words += ["--seed", "\(configuration.seed)"]
        if configuration.realMedia { words.append("--real-media") }
        if !configuration.throughGateway { words.append("--no-gateway") }
        if !configuration.attached {
            for service in ["profiles", "video", "recommendations"] {
                if let count = configuration.instances[service] { words += ["--\(service)", "\(count)"] }
            }
        }
        return words.joined(separator: " ")
    }
}

/// "50", "2.5": no trailing ".0" for whole numbers.
func compactNumber(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
}
