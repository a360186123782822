import Foundation
import MetroTestKit
import Testing

/// deploy/prometheus: the alerting rules parse (`promtool check rules`), the
/// example scrape configuration too (`promtool check config`), each alert fires
/// on the series it is about and stays quiet on healthy ones with its summary
/// rendered as written (`alert_tests.py`, `promtool test rules`), and every
/// Metro metric a rule names is one that Metro's code exports, so a renamed
/// metric cannot leave an alert that never fires.
@Suite struct AlertRulesTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy/prometheus").path

    /// promtool (Debian's `prometheus` package); CI sets METRO_REQUIRE_PROMTOOL=1 so a missing one fails.
    static var promtool: String? {
        ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }
    static var required: Bool { ProcessInfo.processInfo.environment["METRO_REQUIRE_PROMTOOL"] == "1" }

    func run(_ arguments: [String]) async throws -> (status: Int32?, output: String) {
        let child = try ChildProcess(URL(fileURLWithPath: arguments[0]), Array(arguments.dropFirst()))
        let status = await child.waitForExit(timeout: .seconds(60))
        return (status, child.stdoutText + child.stderrText)
    }

    @Test(.enabled(if: promtool != nil || required, "promtool is not installed (apt-get install prometheus)"))
    func theRulesAndTheScrapeConfigurationPassPromtool() async throws {
        let promtool = try #require(Self.promtool, "METRO_REQUIRE_PROMTOOL=1 and no promtool")
        let rules = try await run([promtool, "check", "rules", Self.folder + "/metro-alerts.yml"])
        #expect(rules.status == 0, "\(rules.output)")
        let config = try await run([promtool, "check", "config", Self.folder + "/prometheus.yml"])
        #expect(config.status == 0, "\(config.output)")
        let tests = try await run(["/usr/bin/python3", Self.folder + "/alert_tests.py", promtool])
        #expect(tests.status == 0, "\(tests.output)")
        #expect(tests.output.contains("SUCCESS"), "\(tests.output)")
    }

    @Test func everyMetricARuleNamesIsExported() throws {
        let rules = try String(contentsOfFile: Self.folder + "/metro-alerts.yml", encoding: .utf8)
        let named = Set(
            rules.matches(of: /metro_[a-z_]+/).map { match -> String in
                var name = String(match.output)
                for suffix in ["_bucket", "_count", "_sum"] where name.hasSuffix(suffix) {
                    name.removeLast(suffix.count)
                }
                return name
            })
        #expect(named.count >= 10, "\(named)")
        let sources = URL(fileURLWithPath: Self.folder).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources").path
        var code = ""
        for case let file as String in FileManager.default.enumerator(atPath: sources)! where file.hasSuffix(".swift") {
            code += try String(contentsOfFile: sources + "/" + file, encoding: .utf8)
        }
        let missing = named.filter { !code.contains("\"\($0)\"") }.sorted()
        #expect(missing.isEmpty, "named by a rule, exported by no code: \(missing)")
    }
}
