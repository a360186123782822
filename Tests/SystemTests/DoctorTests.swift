import Foundation
import Testing

@Suite struct CLITests {
    @Test func versionPrintsTheVersion() throws {
        let p = try MetroProcess(["--version"])
        #expect(p.waitForExit() == 0)
        try waitFor("stdout") { !p.stdoutLines.isEmpty }
        #expect(p.stdoutLines.first?.hasPrefix("0.") == true)
    }
}
