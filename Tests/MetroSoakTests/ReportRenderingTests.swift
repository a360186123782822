import Foundation
import Testing

@testable import MetroSoak

/// The three renderings of a report (and the terminal summary): same content,
/// escaped data, a page that needs nothing outside itself.
@Suite struct ReportRenderingTests {
    /// Markup in every string that comes from the run.
    static let hostile = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>'&amp;"

    private func hostileReport() -> SoakReport {
        var history = ReportFixtures.sampleHistory()
        history.faults.append(
            SoakFault(
                kind: .kill, target: "gw-\(Self.hostile)", startNs: 40_000_000_000, endNs: 40_000_000_000,
                wholeAgainNs: 41_000_000_000, detail: "detail \(Self.hostile)"))
        history.samples.append(
            ProcessSample(name: "p-\(Self.hostile)", pid: 9, tNs: 0, rssBytes: 1 << 20, cpuSeconds: 0))
        history.samples.append(
            ProcessSample(name: "p-\(Self.hostile)", pid: 9, tNs: 60_000_000_000, rssBytes: 2 << 20, cpuSeconds: 1))
        var checker = ReportFixtures.checker(
            failing: InvariantVerdict(
                name: "views-in-history-once", statement: "statement \(Self.hostile)", holds: false, checked: 5,
                detail: "error text \(Self.hostile)", offending: ["ev-\(Self.hostile)"]))
        checker.latenciesMs["lat-\(Self.hostile)"] = [1, 2, 3]
        return SoakReport.build(
            configuration: ReportFixtures.configuration(), history: history, checker: checker,
            finishedAt: ReportFixtures.finishedAt)
    }

    @Test func htmlEscapesEveryStringFromTheRun() {
        let html = hostileReport().html()
        #expect(!html.contains("<script"))
        #expect(!html.contains("<img"))
        #expect(!html.contains("'&amp;"))  // the ampersand itself is escaped: &#39;&amp;amp;
        #expect(
            html.contains(
                "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;&#39;&amp;amp;"))
        // Every place the data lands: offending id, detail, fault target and detail, process name, latency name.
        for prefix in ["ev-", "error text ", "gw-", "detail ", "p-", "lat-", "statement "] {
            #expect(html.contains(prefix + "&lt;script&gt;"), "\(prefix)")
        }
    }

    @Test func markdownAndTerminalCannotBeHijacked() {
        let report = hostileReport()
        let markdown = report.markdown()
        // Markdown passes raw HTML through: every "<" from the data is backslash-escaped.
        #expect(markdown.firstRange(of: /(^|[^\\])</) == nil)
        #expect(markdown.contains("ev-\\<script\\>alert(1)\\</script\\>"))
        // No cell can end its row early: every row of a table has as many cells as its header.
        var headerCells: Int?
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("|") else {
                headerCells = nil
                continue
            }
            let cells = line.replacingOccurrences(of: "\\|", with: "").count { $0 == "|" }
            if let headerCells { #expect(cells == headerCells, "\(line)") } else { headerCells = cells }
        }
        var escapeInError = report
        escapeInError.invariants[0].holds = false
        escapeInError.invariants[0].detail = "bad \u{1B}[2J cleared"
        #expect(!escapeInError.terminalSummary().contains("\u{1B}"))
    }

    @Test func htmlNeedsNothingOutsideItself() {
        let html = ReportFixtures.sampleReport().html().lowercased()
        for reference in ["http://", "https://", "src=", "href=", "url(", "@import", "<script", "<link", "<iframe"] {
            #expect(!html.contains(reference), "\(reference)")
        }
        #expect(html.hasPrefix("<!doctype html>"))
    }

    /// Three charts (p99 per window, RSS, CPU), each with lines, and the faults as bands.
    @Test func htmlDrawsTheChartsAsInlineSVG() {
        let report = ReportFixtures.sampleReport()
        let html = report.html()
        #expect(html.components(separatedBy: "<svg").count - 1 == 3)
        let polylines = html.components(separatedBy: "<polyline").count - 1
        #expect(polylines >= report.latencies.filter { !$0.p99Windows.isEmpty }.count + 2 * report.processes.count)
        #expect(!html.contains("points=\"\""))
        // Three faults, three charts: a band for each in each, the last never recovered (runs to the end).
        #expect(html.components(separatedBy: "<rect class=\"fault\"").count - 1 == 9)
        #expect(html.components(separatedBy: "<rect class=\"recovery\"").count - 1 == 9)
        #expect(!html.contains("nan") && !html.contains("inf\""))
    }

    /// Every invariant and every fault appears in JSON, Markdown and HTML.
    @Test func everyInvariantAndFaultInEveryRendering() throws {
        let report = ReportFixtures.sampleReport()
        let json = String(decoding: try report.json(), as: UTF8.self)
        let renderings = ["json": json, "markdown": report.markdown(), "html": report.html()]
        #expect(report.invariants.count == SoakReport.expectedInvariants.count)
        for (format, text) in renderings {
            for name in SoakReport.expectedInvariants { #expect(text.contains(name), "\(format) lacks \(name)") }
            for fault in report.faults {
                #expect(text.contains(fault.detail), "\(format) lacks fault \(fault.detail)")
                #expect(text.contains(fault.target), "\(format) lacks fault target \(fault.target)")
            }
        }
        // The recovery times and the one that never came.
        #expect(report.markdown().contains("1.8 s"))
        #expect(report.markdown().contains("**never**"))
        #expect(report.html().contains(">never<"))
    }

    /// The verdict is the first thing an operator reads, with the failed invariant
    /// and its first offending ids before anything else.
    @Test func failedInvariantComesFirstInMarkdown() {
        let report = ReportFixtures.sampleReport()
        #expect(!report.passed)
        let lines = report.markdown().split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines[0] == "# Metro soak: FAIL")
        #expect(lines[1] == "**FAIL: 1 of 8 invariants failed: acked-events-in-journal.**")
        #expect(lines[2].hasPrefix("- `acked-events-in-journal`: 3 acknowledged events missing"))
        #expect(lines[2].contains("`ev-17`"))
        let summary = report.terminalSummary()
        #expect(summary.hasPrefix("soak FAIL: 1 of 8 invariants failed: acked-events-in-journal."))
        #expect(summary.contains("ev-17"))
        #expect(report.html().contains("<header class=\"fail\"><h1>Metro soak: FAIL</h1>"))

        let passing = ReportFixtures.sampleReport(failing: false)
        #expect(passing.markdown().hasPrefix("# Metro soak: PASS\n\n**PASS: all 8 invariants hold.**"))
        #expect(passing.terminalSummary().hasPrefix("soak PASS: all 8 invariants hold."))
    }

    @Test func markdownHasEverySection() {
        let markdown = ReportFixtures.sampleReport().markdown()
        var position = markdown.startIndex
        for heading in [
            "## Invariants", "## Totals", "## Failures", "## Latency (ms)", "## Faults", "## Processes",
            "## Configuration",
        ] {
            let range = markdown.range(of: heading, range: position..<markdown.endIndex)
            #expect(range != nil, "\(heading) missing or out of order")
            position = range?.upperBound ?? position
        }
        #expect(markdown.contains("metro soak --rate 50 --duration 60s --chaos --seed 42"))
        for name in ["publish→ACK", "upload→processed", "view→visible", "http recommend", "rpc upload"] {
            #expect(markdown.contains("| \(name) |"), "\(name)")
        }
        #expect(markdown.contains("| gateway |"))
    }

    @Test func writesTheThreeFiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("soak-report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let report = ReportFixtures.sampleReport()
        let urls = try report.write(toFolder: folder)
        #expect(urls.map(\.lastPathComponent) == ["soak-report.json", "soak-report.md", "soak-report.html"])
        #expect(try SoakReport.decode(Data(contentsOf: urls[0])) == report)
        #expect(try String(contentsOf: urls[1], encoding: .utf8) == report.markdown())
        #expect(try String(contentsOf: urls[2], encoding: .utf8) == report.html())
    }

    @Test func jsonRoundTripsWithSortedKeysAndVersion() throws {
        let report = ReportFixtures.sampleReport()
        let data = try report.json()
        #expect(try SoakReport.decode(data) == report)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["version"] as? Int == 2)
        #expect(object["passed"] as? Bool == false)
        #expect(object["startedAt"] as? String == "2027-01-15T08:00:00Z")
        let text = String(decoding: data, as: UTF8.self)
        let keys = ["configuration", "faults", "finishedAt", "invariants", "latencies", "passed", "processes"]
        let offsets = keys.compactMap { text.range(of: "\n  \"\($0)\"")?.lowerBound }
        #expect(offsets.count == keys.count)
        #expect(offsets == offsets.sorted())
    }
}
