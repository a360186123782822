/// The report's three charts, each a `SvgChart` over the run's time axis with the
/// faults as bands numbered as in the fault table (F1, F2, ...).
struct SoakReportCharts {
    let report: SoakReport

    /// p99 per 10-s window of every latency that has a time series, on a log axis
    /// (publish→ACK in ms and upload→processed in seconds share one chart).
    func latencyChart() -> String {
        let series = report.latencies.filter { !$0.p99Windows.isEmpty }.map { summary in
            SvgChart.Series(
                name: summary.name,
                points: summary.p99Windows.map {
                    (x: $0.startSeconds + LatencySummary.windowSeconds / 2, y: Optional($0.p99Ms))
                })
        }
        let chart = SvgChart(
            title: "p99 latency per \(compactNumber(LatencySummary.windowSeconds))-s window (ms, log scale)",
            yLabel: "p99 (ms)", xMax: report.runSeconds, logY: true, series: series, bands: bands)
        var html = chart.html()
        let untimed = report.latencies.filter(\.p99Windows.isEmpty).map(\.name)
        if !untimed.isEmpty {
            html += "<p><small>Without a time series (the checker gives their samples without times): "
            html += ReportText.html(untimed.joined(separator: ", ")) + ".</small></p>\n"
        }
        return html
    }

    /// RSS of every process; a restart breaks the line (a new pid starts from scratch).
    func rssChart() -> String {
        SvgChart(
            title: "RSS per process (MiB)", yLabel: "RSS (MiB)", xMax: report.runSeconds,
            series: report.processes.map { process in
                SvgChart.Series(name: process.name, points: brokenAtRestarts(process) { $0.rssMiB })
            }, bands: bands
        ).html()
    }

    /// CPU of every process in % of one core, between consecutive samples of one pid.
    func cpuChart() -> String {
        SvgChart(
            title: "CPU per process (% of one core)", yLabel: "CPU (%)", xMax: report.runSeconds,
            series: report.processes.map { process in
                SvgChart.Series(name: process.name, points: brokenAtRestarts(process) { $0.cpuPercent })
            }, bands: bands
        ).html()
    }

    private var bands: [SvgChart.Band] {
        report.faults.enumerated().map { index, fault in
            SvgChart.Band(
                label: "F\(index + 1)",
                title: "F\(index + 1) \(fault.kind) \(fault.target) at \(ReportText.seconds(fault.atSeconds)), "
                    + "whole again after \(ReportText.recovery(fault)): \(fault.detail)",
                start: fault.atSeconds, end: fault.atSeconds + fault.durationSeconds,
                recoveredAt: fault.recoverySeconds.map { fault.atSeconds + $0 })
        }
    }

    /// The points with a gap (nil) inserted where the pid changes.
    private func brokenAtRestarts(_ process: ProcessReport, _ value: (ProcessPoint) -> Double?)
        -> [(x: Double, y: Double?)]
    {
        var points: [(x: Double, y: Double?)] = []
        var pid = process.points.first?.pid
        for point in process.points {
            if point.pid != pid { points.append((x: point.tSeconds, y: nil)) }
            pid = point.pid
            points.append((x: point.tSeconds, y: value(point)))
        }
        return points
    }
}
