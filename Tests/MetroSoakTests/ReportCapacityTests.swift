import Foundation
import Testing

@testable import MetroSoak

/// A run that passes at well under its target rate says so first, with what held
/// it down; one that kept up says nothing of the kind.
@Suite struct ReportCapacityTests {
    /// The sample report, with 1,000 views not started and 40 uploads shed as overloaded.
    private func saturatedReport(targetRate: Double) -> SoakReport {
        var report = ReportFixtures.sampleReport(failing: false)
        report.configuration.targetRate = targetRate
        let view = try! #require(report.totals.byKind.firstIndex { $0.kind == "view" })
        report.totals.byKind[view].notStarted = 1000
        report.failures.append(
            FailureGroup(
                kind: "upload", outcome: "failed",
                cause: "HTTP 429 (overloaded): 'video' is at its concurrency limit; retry later [request <id>]",
                count: 40, duringFaults: [], outsideFaults: 40))
        return report
    }

    @Test func aRunUnderItsTargetRateSaysWhatHeldItDown() throws {
        let report = saturatedReport(targetRate: 10_000)
        let sentence = try #require(report.capacitySentence)
        let achieved = report.totals.overall.okPerSecond
        #expect(sentence.hasPrefix("Below the target rate: \(ReportText.fixed(achieved, 1)) ok/s is "), "\(sentence)")
        #expect(sentence.contains("of the 10000/s asked"), "\(sentence)")
        #expect(sentence.contains("1000 arrivals not started (view 1000)"), "\(sentence)")
        #expect(sentence.contains("40 requests refused as overloaded (429)"), "\(sentence)")
        #expect(sentence.contains("injected faults"), "the fixture's faults are named: \(sentence)")
        #expect(sentence.contains(" cores on average of this machine's 2; the busiest (% of a core): "), "\(sentence)")
        #expect(sentence.contains("run at a rate it keeps up with"), "\(sentence)")
        // In every rendering, next to the run's line.
        #expect(report.markdown().contains("**Below the target rate:** \(ReportText.fixed(achieved, 1)) ok/s"))
        #expect(report.terminalSummary().contains("Below the target rate: "))
        #expect(report.html().contains("<p class=\"capacity\"><strong>Below the target rate:</strong> "))
    }

    @Test func aRunThatKeptUpSaysNothingOfTheKind() {
        var report = saturatedReport(targetRate: 1)
        report.configuration.targetRate = report.totals.overall.okPerSecond / SoakReport.keptUpShare
        #expect(report.capacitySentence == nil)
        #expect(!report.markdown().contains("Below the target rate"))
        #expect(!report.html().contains("class=\"capacity\""))
    }
}
