import Foundation

extension SoakReport {
    /// The report as one self-contained page (`soak-report.html`): inline CSS, charts
    /// as inline SVG drawn here, no script, no font, no link or reference to anything
    /// outside the file. Same content as `markdown()`, in the same order, plus charts
    /// of p99 per window, RSS and CPU per process, with the faults as bands.
    /// Every string from the run is escaped (`ReportText.html`).
    public func html() -> String {
        let e = ReportText.html
        var page = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Metro soak: \(passed ? "PASS" : "FAIL")</title>
            <style>\(Self.css)</style></head><body>
            <header class="\(passed ? "pass" : "fail")"><h1>Metro soak: \(passed ? "PASS" : "FAIL")</h1>
            <p class="verdict">\(e(verdictSentence))</p>\n
            """
        if !failedInvariants.isEmpty {
            page += "<ul class=\"failed\">"
            for verdict in failedInvariants {
                page += "<li><code>\(e(verdict.name))</code>: \(e(verdict.detail))"
                let ids = ReportText.offenders(verdict, limit: 5) { "<code>\(e($0))</code>" }
                if !ids.isEmpty { page += " — offending: \(ids)" }
                page += "</li>"
            }
            page += "</ul>\n"
        }
        page += "<p>\(e(runSentence))</p>"
        if let capacitySentence {
            let lead = Self.capacityLead
            page +=
                "<p class=\"capacity\"><strong>\(lead)</strong>\(e(String(capacitySentence.dropFirst(lead.count))))</p>"
        }
        page += "</header>\n<main>\n"
        page += section("Invariants", invariantsTable())
        page += section(
            "Totals", "<p>Rates over \(e(ReportText.seconds(totals.loadSeconds))) of load.</p>" + totalsTable())
        page += section("Failures", "<p>\(e(failuresSentence))</p>" + failuresTable())
        page += section("Latency (ms)", latencyTable() + SoakReportCharts(report: self).latencyChart())
        page += section("Faults", faultsTable())
        page += section(
            "Processes",
            "<p>\(e(processNote))</p>" + processTable() + SoakReportCharts(report: self).rssChart()
                + SoakReportCharts(report: self).cpuChart())
        var configuration = "<dl>"
        for (label, value) in configurationRows { configuration += "<dt>\(e(label))</dt><dd>\(e(value))</dd>" }
        configuration += "</dl><p>Reproduce:</p><pre><code>\(e(reproduce))</code></pre>"
        page += section("Configuration", configuration)
        page += "</main></body></html>\n"
        return page
    }

    private func section(_ title: String, _ body: String) -> String {
        "<section><h2>\(ReportText.html(title))</h2>\n\(body)\n</section>\n"
    }

    /// A table; cells are HTML already (the callers escape data).
    private func table(_ header: [String], _ rows: [[String]], numericFrom: Int = 1) -> String {
        var out =
            "<table><thead><tr>" + header.map { "<th>\(ReportText.html($0))</th>" }.joined() + "</tr></thead><tbody>"
        for row in rows {
            out += "<tr>"
            for (index, cell) in row.enumerated() {
                out += index >= numericFrom ? "<td class=\"n\">\(cell)</td>" : "<td>\(cell)</td>"
            }
            out += "</tr>"
        }
        return out + "</tbody></table>\n"
    }

    private func invariantsTable() -> String {
        let e = ReportText.html
        var out = "<table><thead><tr><th>verdict</th><th>invariant</th><th>checked</th><th>detail</th>"
        out += "<th>offending</th></tr></thead><tbody>"
        for verdict in invariants {
            out += verdict.holds ? "<tr><td class=\"ok\">pass</td>" : "<tr class=\"bad\"><td class=\"bad\">FAIL</td>"
            out += "<td><code>\(e(verdict.name))</code><br><small>\(e(verdict.statement))</small></td>"
            out += "<td class=\"n\">\(verdict.checked)</td><td>\(e(verdict.detail))</td>"
            out += "<td>\(ReportText.offenders(verdict, limit: 50) { "<code>\(e($0))</code>" })</td></tr>"
        }
        return out + "</tbody></table>\n"
    }

    private func totalsTable() -> String {
        table(
            ["operation", "sent", "ok", "failed", "timed out", "not started", "sent/s", "ok/s"],
            (totals.byKind + [totals.overall]).map { row in
                [
                    ReportText.html(row.kind), "\(row.sent)", "\(row.ok)", "\(row.failed)", "\(row.timedOut)",
                    "\(row.notStarted)", ReportText.fixed(row.sentPerSecond, 1), ReportText.fixed(row.okPerSecond, 1),
                ]
            })
    }

    private func failuresTable() -> String {
        guard !failures.isEmpty else { return "" }
        let e = ReportText.html
        return table(
            ["operation", "outcome", "cause", "count", "during faults", "outside any fault"],
            failures.map { group in
                [
                    e(group.kind), e(Self.outcomeText(group.outcome)), "<code>\(e(group.cause))</code>",
                    "\(group.count)",
                    group.duringFaults.isEmpty ? "–" : e(group.duringFaults.joined(separator: ", ")),
                    group.outsideFaults > 0 ? "<strong class=\"bad\">\(group.outsideFaults)</strong>" : "0",
                ]
            }, numericFrom: 3)
    }

    private func latencyTable() -> String {
        guard !latencies.isEmpty else { return "<p>No latency samples.</p>" }
        return table(
            ["latency", "count", "p50", "p90", "p99", "p99.9", "max"],
            latencies.map { summary in
                [ReportText.html(summary.name), "\(summary.count)"]
                    + [summary.p50Ms, summary.p90Ms, summary.p99Ms, summary.p999Ms, summary.maxMs].map(ReportText.ms)
            })
    }

    private func faultsTable() -> String {
        guard !faults.isEmpty else { return "<p>No faults injected.</p>" }
        let e = ReportText.html
        // "15.4 s" on one line: the times are what the column is read for.
        let time = { (text: String) in text.replacingOccurrences(of: " ", with: "&nbsp;") }
        return table(
            ["#", "at", "kind", "target", "lasted", "whole again after", "detail"],
            faults.enumerated().map { index, fault in
                [
                    "F\(index + 1)", time(ReportText.seconds(fault.atSeconds)), e(fault.kind), e(fault.target),
                    time(ReportText.seconds(fault.durationSeconds)),
                    fault.recovered ? time(ReportText.recovery(fault)) : "<strong class=\"bad\">never</strong>",
                    e(fault.detail),
                ]
            }, numericFrom: 7)
    }

    private func processTable() -> String {
        guard !processes.isEmpty else { return "<p>No process samples.</p>" }
        return table(
            ["process", "pids", "restarts", "peak RSS (MiB)", "RSS growth, last half", "mean CPU (% of a core)"],
            processes.map { process in
                [
                    ReportText.html(process.name), process.pids.map(String.init).joined(separator: ", "),
                    "\(process.restarts)", ReportText.fixed(process.peakRssMiB, 1),
                    process.rssGrowth.map { ReportText.html(Self.growthText($0)) } ?? "n/a",
                    process.meanCpuPercent.map { ReportText.fixed($0, 1) } ?? "n/a",
                ]
            })
    }

    static let css = """
        body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
        header{padding:16px 28px;color:#fff}header.pass{background:#2e7d32}header.fail{background:#c62828}
        header h1{margin:0 0 4px;font-size:28px}header p{margin:4px 0}.verdict{font-weight:600;font-size:18px}
        header ul{margin:6px 0;padding-left:22px}header p.capacity{background:rgba(0,0,0,.2);padding:6px 10px;border-left:4px solid #ffb300}header code{background:rgba(255,255,255,.2);color:#fff}
        main{padding:4px 28px 28px;max-width:1100px}section{margin-top:18px}h2{font-size:20px;border-bottom:1px solid #ddd}
        table{border-collapse:collapse;margin:8px 0;background:#fff}th,td{border:1px solid #ddd;padding:4px 8px;
        text-align:left;vertical-align:top}th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
        td code{word-break:break-all}.ok{color:#2e7d32;font-weight:600}.bad{color:#c62828;font-weight:600}
        tr.bad{background:#fff3f3}code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;
        background:#f0f0f0;padding:0 3px;border-radius:3px}pre{background:#f0f0f0;padding:8px;overflow-x:auto}
        dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px}dt{color:#555}dd{margin:0}
        figure{margin:14px 0;background:#fff;border:1px solid #ddd;padding:8px}figcaption{font-weight:600}
        svg.chart{width:100%;height:auto;display:block}.plot{fill:#fff;stroke:#bbb}
        .grid{stroke:#eee}.line{fill:none;stroke-width:1.6}.fault{fill:#c62828;fill-opacity:.35}
        .recovery{fill:#f9a825;fill-opacity:.18}.bandlabel{font-size:11px;fill:#c62828}
        .xtick{font-size:11px;text-anchor:middle;fill:#555}.ytick{font-size:11px;text-anchor:end;fill:#555}
        .axislabel{font-size:12px;fill:#333;text-anchor:middle}.nodata{fill:#999;text-anchor:middle}
        .legend{list-style:none;padding:0;margin:6px 0 0;display:flex;flex-wrap:wrap;gap:4px 16px;font-size:13px}
        .swatch{display:inline-block;width:12px;height:12px;margin-right:5px;vertical-align:-1px}
        .swatch.fault{background:#c62828;opacity:.5}.swatch.recovery{background:#f9a825;opacity:.35}
        """
}
