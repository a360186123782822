import Foundation
import Testing

@testable import MetroSoak

/// Writes the fixture's sample report to $METRO_SOAK_SAMPLE_DIR for
/// scripts/soak-report-check.sh (headless Chromium), without a soak run.
/// Off in the default test run: it only runs when that variable is set.
@Suite struct ReportSampleWriterTests {
    static let folder = ProcessInfo.processInfo.environment["METRO_SOAK_SAMPLE_DIR"]

    @Test(.enabled(if: folder != nil, "set METRO_SOAK_SAMPLE_DIR to write the sample report"))
    func writeSampleReport() throws {
        let folder = URL(fileURLWithPath: try #require(Self.folder), isDirectory: true)
        let failing = ReportFixtures.sampleReport()
        try failing.write(toFolder: folder)
        try Data((failing.terminalSummary() + "\n").utf8).write(to: folder.appendingPathComponent("soak-summary.txt"))
        let passing = ReportFixtures.sampleReport(failing: false)
        try Data(passing.html().utf8).write(to: folder.appendingPathComponent("soak-report-pass.html"))
        let written = try Data(contentsOf: folder.appendingPathComponent("soak-report.html"))
        #expect(String(decoding: written, as: UTF8.self) == failing.html())
    }
}
