extension SoakReport {
    /// A short block for the end of a run: the verdict (with the failed invariants and
    /// their first offending ids), rate, p99s, faults with recovery, RSS growth.
    /// Plain text (control characters from the data replaced, so an error text cannot
    /// drive the terminal): the caller colours it if it writes to a terminal.
    public func terminalSummary() -> String {
        var lines = ["soak \(verdictSentence)"]
        for verdict in failedInvariants {
            let ids = ReportText.offenders(verdict, limit: 3, render: ReportText.plain)
            lines.append(
                "  \(ReportText.plain(verdict.name)): \(ReportText.plain(verdict.detail))\(ids.isEmpty ? "" : " (\(ids))")"
            )
        }
        lines.append(runSentence)
        if let capacitySentence { lines.append(capacitySentence) }
        let ops = totals.overall
        var counts = "operations: \(ops.sent) sent, \(ops.ok) ok, \(ops.failed) failed, \(ops.timedOut) timed out"
        if ops.notStarted > 0 { counts += "; \(ops.notStarted) not started (the in-flight limit was full)" }
        lines.append(counts)
        let outside = failures.filter { $0.outsideFaults > 0 }
        if !faults.isEmpty, !outside.isEmpty {
            lines.append(
                "outside any fault: "
                    + outside.prefix(3).map {
                        $0.outcome == "notStarted"
                            ? "\($0.outsideFaults) \($0.kind) not started (in-flight limit full)"
                            : "\($0.outsideFaults) \($0.kind) \(Self.outcomeText($0.outcome)): \(ReportText.plain($0.cause))"
                    }
                    .joined(separator: "; "))
        }
        if !latencies.isEmpty {
            lines.append("p99: " + latencies.map { "\($0.name) \(ReportText.ms($0.p99Ms)) ms" }.joined(separator: ", "))
        }
        if !faults.isEmpty {
            lines.append(
                "faults: "
                    + faults.map {
                        "\($0.kind) \(ReportText.plain($0.target)) → whole again \(ReportText.recovery($0))"
                    }
                    .joined(separator: "; "))
        }
        let growth = processes.compactMap { process in
            process.rssGrowth.map { "\(ReportText.plain(process.name)) \(ReportText.growth($0))" }
        }
        if !growth.isEmpty { lines.append("RSS growth, last half: " + growth.joined(separator: ", ")) }
        lines.append("repeat: \(reproduce)")
        return lines.joined(separator: "\n")
    }
}
