import Foundation

extension SoakReport {
    /// The report for a person at 3 a.m. (`soak-report.md`): the verdict and the failed
    /// invariants with their first offending ids first, then one line on the run, then
    /// invariants, totals, latencies, the fault timeline, processes, the configuration
    /// and the command that repeats the run.
    public func markdown() -> String {
        var lines = ["# Metro soak: \(passed ? "PASS" : "FAIL")", ""]
        lines.append("**\(ReportText.markdown(verdictSentence))**")
        lines.append("")
        for verdict in failedInvariants {
            var line = "- \(ReportText.markdownId(verdict.name)): \(ReportText.markdown(verdict.detail))"
            let ids = ReportText.offenders(verdict, limit: 5, render: ReportText.markdownId)
            if !ids.isEmpty { line += " — offending: \(ids)" }
            lines.append(line)
        }
        if !failedInvariants.isEmpty { lines.append("") }
        lines.append(ReportText.markdown(runSentence))
        if let capacitySentence {
            let lead = Self.capacityLead
            lines += ["", "**\(lead)**" + ReportText.markdown(String(capacitySentence.dropFirst(lead.count)))]
        }
        lines += ["", "## Invariants", ""]
        lines += table(
            ["verdict", "invariant", "checked", "detail", "offending"],
            invariants.map { verdict in
                [
                    verdict.holds ? "pass" : "**FAIL**",
                    "\(ReportText.markdownId(verdict.name)): \(ReportText.markdown(verdict.statement))",
                    "\(verdict.checked)", ReportText.markdown(verdict.detail),
                    ReportText.offenders(verdict, limit: 10, render: ReportText.markdownId),
                ]
            })
        lines += ["", "## Totals", "", "Rates over \(ReportText.seconds(totals.loadSeconds)) of load.", ""]
        lines += table(
            ["operation", "sent", "ok", "failed", "timed out", "not started", "sent/s", "ok/s"],
            (totals.byKind + [totals.overall]).map { row in
                [
                    row.kind, "\(row.sent)", "\(row.ok)", "\(row.failed)", "\(row.timedOut)", "\(row.notStarted)",
                    ReportText.fixed(row.sentPerSecond, 1), ReportText.fixed(row.okPerSecond, 1),
                ]
            })
        lines += ["", "## Failures", "", ReportText.markdown(failuresSentence)]
        if !failures.isEmpty {
            lines.append("")
            lines += table(
                ["operation", "outcome", "cause", "count", "during faults", "outside any fault"],
                failures.map { group in
                    [
                        group.kind, Self.outcomeText(group.outcome), ReportText.markdown(group.cause), "\(group.count)",
                        group.duringFaults.isEmpty ? "–" : group.duringFaults.joined(separator: ", "),
                        group.outsideFaults > 0 ? "**\(group.outsideFaults)**" : "0",
                    ]
                })
        }
        lines += ["", "## Latency (ms)", ""]
        lines +=
            latencies.isEmpty
            ? ["No latency samples."]
            : table(
                ["latency", "count", "p50", "p90", "p99", "p99.9", "max"],
                latencies.map { summary in
                    [ReportText.markdown(summary.name), "\(summary.count)"]
                        + [summary.p50Ms, summary.p90Ms, summary.p99Ms, summary.p999Ms, summary.maxMs].map(
                            ReportText.ms)
                })
        lines += ["", "## Faults", ""]
        lines +=
            faults.isEmpty
            ? ["No faults injected."]
            : table(
                ["#", "at", "kind", "target", "lasted", "whole again after", "detail"],
                faults.enumerated().map { index, fault in
                    [
                        "F\(index + 1)", ReportText.seconds(fault.atSeconds), ReportText.markdown(fault.kind),
                        ReportText.markdown(fault.target), ReportText.seconds(fault.durationSeconds),
                        fault.recovered ? ReportText.recovery(fault) : "**never**", ReportText.markdown(fault.detail),
                    ]
                })
        lines += ["", "## Processes", "", processNote, ""]
        lines +=
            processes.isEmpty
            ? ["No process samples."]
            : table(
                ["process", "pids", "restarts", "peak RSS (MiB)", "RSS growth, last half", "mean CPU (% of a core)"],
                processes.map { process in
                    [
                        ReportText.markdown(process.name), process.pids.map(String.init).joined(separator: ", "),
                        "\(process.restarts)", ReportText.fixed(process.peakRssMiB, 1),
                        process.rssGrowth.map { ReportText.markdown(Self.growthText($0)) } ?? "n/a",
                        process.meanCpuPercent.map { ReportText.fixed($0, 1) } ?? "n/a",
                    ]
                })
        lines += ["", "## Configuration", ""]
        lines += configurationRows.map { "- \($0.0): \(ReportText.markdown($0.1))" }
        lines += ["", "Reproduce:", "", "```sh", reproduce, "```", ""]
        return lines.joined(separator: "\n")
    }

    /// "PASS: all 8 invariants hold." / "FAIL: 2 of 8 invariants failed: a, b."
    var verdictSentence: String {
        if passed { return "PASS: all \(invariants.count) invariants hold." }
        let names = failedInvariants.map(\.name)
        return "FAIL: \(names.count) of \(invariants.count) invariants failed: \(names.joined(separator: ", "))."
    }

    /// What did not succeed, in one sentence: how many, and how many outside the faults.
    var failuresSentence: String {
        let all = totals.overall
        let unsuccessful = all.failed + all.timedOut + all.notStarted
        guard unsuccessful > 0 else { return "Every operation sent succeeded, and every arrival was sent." }
        let outside = failures.reduce(0) { $0 + $1.outsideFaults }
        var text = "\(unsuccessful) operations did not succeed (\(all.failed) failed, \(all.timedOut) timed out, "
        text += "\(all.notStarted) not started); "
        text +=
            faults.isEmpty
            ? "no fault was injected, so each of them is the system's own."
            : outside == 0
                ? "every one of them overlapped a fault."
                : "\(outside) of them overlapped no fault: look at those first."
        if all.notStarted > 0 {
            text += " Not started: arrivals the soak did not send because its limit of operations in flight"
            text += " (--concurrency) was full, the system being slow to answer those."
        }
        return text
    }

    static func outcomeText(_ outcome: String) -> String {
        switch outcome {
        case "timedOut": "timed out"
        case "notStarted": "not started"
        default: outcome
        }
    }

    /// One line on the run: length, achieved vs target rate, faults and their recovery.
    var runSentence: String {
        var text = "\(ReportText.seconds(runSeconds)) run, \(totals.overall.sent) operations sent, "
        text += "\(ReportText.fixed(totals.overall.okPerSecond, 1)) ok/s of "
        text += "\(compactNumber(configuration.targetRate))/s targeted; "
        let recovered = faults.compactMap(\.recoverySeconds)
        text += "\(faults.count) faults, \(recovered.count) recovered"
        if let slowest = recovered.max() { text += " (slowest in \(ReportText.seconds(slowest)))" }
        text += "; seed \(configuration.seed)."
        return text
    }

    var processNote: String {
        "RSS growth compares one process with itself over the last half of the run; after a restart, "
            + "the incarnation that lived longest in that half is measured (\"partial\": it did not cover all of it)."
    }

    static func growthText(_ growth: RssGrowth) -> String {
        var text = "\(ReportText.growth(growth)), pid \(growth.pid)"
        if growth.partial {
            text +=
                ", partial: \(compactNumber(growth.fromSeconds.rounded()))–\(compactNumber(growth.toSeconds.rounded())) s"
        }
        return text
    }

    /// The configuration as label/value pairs (values are data: escape them when rendering).
    var configurationRows: [(String, String)] {
        let c = configuration
        return [
            ("seed", "\(c.seed)"), ("target rate", "\(compactNumber(c.targetRate)) ops/s"),
            ("duration", ReportText.seconds(c.durationSeconds)), ("chaos", c.chaos ? "on" : "off"),
            ("system", c.attached ? "attached to a running system" : "started by the soak"),
            ("security", c.isSecure ? "CURVE on every socket, bearer tokens at the gateway" : "plain (no CURVE)"),
            ("uploads", c.realMedia ? "real clips" : "synthetic"),
            ("recommendations via", c.throughGateway ? "gateway (HTTP)" : "rpc"),
            ("uploads via", c.throughGateway ? "gateway (HTTP) and rpc, half each" : "rpc"),
            (
                "mix",
                c.mix.sorted { $0.key < $1.key }.map { "\($0.key) \(Int(($0.value * 100).rounded()))%" }
                    .joined(separator: ", ")
            ),
            (
                "instances",
                c.instances.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            ),
            ("data folder", c.dataFolder), ("host", "\(c.host), \(c.cores) cores"),
            ("started", ISO8601DateFormatter().string(from: startedAt)),
            ("finished", ISO8601DateFormatter().string(from: finishedAt)),
        ]
    }

    private func table(_ header: [String], _ rows: [[String]]) -> [String] {
        ["| " + header.joined(separator: " | ") + " |", "|" + header.map { _ in "---|" }.joined()]
            + rows.map { "| " + $0.joined(separator: " | ") + " |" }
    }
}
