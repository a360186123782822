import Foundation
import MetroTestKit
import Testing

/// A worker whose database file is not a database (restored from the wrong
/// backup, overwritten) stops at start and names the file. Before, the error
/// was SQLite's alone ("file is not a database - while executing `PRAGMA
/// synchronous = FULL`"), with no path: the operator had to guess which of the
/// services' files to look at.
@Suite struct ProfilesBadDatabaseTests {
    @Test func aWorkerWhoseDatabaseIsGarbageStopsNamingTheFile() async throws {
        let data = try TemporaryDirectory()
        let folder = data.url.appendingPathComponent("profiles")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let database = folder.appendingPathComponent("profiles.sqlite").path
        let garbage = Data((0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) })
        #expect(FileManager.default.createFile(atPath: database, contents: garbage))
        // No broker or registry is reached: the store opens first.
        let p = try MetroProcess(["worker", "profiles", "--data", data.path, "--registry", "tcp://127.0.0.1:1"])
        #expect(await p.waitForExit() == 1)
        try await eventually("the reason on stderr") { p.stderrText.contains("file is not a database") }
        #expect(p.stderrText.contains("cannot open the service's database \(database)"), "\(p.stderrText)")
        // The file is left as it was, for the operator to look at.
        #expect(FileManager.default.contents(atPath: database) == garbage)
    }
}
