import Foundation
import Testing

@testable import MetroBroker

/// `JournalError` carries a `Code` the broker branches on (never the operation's
/// name): only `.sync` is fatal (protocol.md §4.2.7).
@Suite struct JournalErrorTests {
    @Test func failedCallsCarryTheirCode() throws {
        let missing = "/nonexistent-\(UUID().uuidString)/x"
        #expect(throws: JournalError.self) { _ = try FileIO.open(missing, flags: O_RDONLY) }
        do {
            _ = try FileIO.open(missing, flags: O_RDONLY)
        } catch {
            #expect(error.code == .open && error.errno == ENOENT && !error.isSyncFailure)
        }
        do {
            try FileIO.sync(-1, path: "nothing")
            Issue.record("a sync of a bad descriptor succeeded")
        } catch {
            #expect(error.code == .sync && error.isSyncFailure)
        }
    }

    @Test func codesAreDistinctValues() {
        let codes: [JournalError.Code] = [.open, .read, .write, .sync, .corrupt]
        #expect(Set(codes).count == 5)
        #expect(codes.map(\.description) == ["open", "read", "write", "sync", "corrupt"])
        let e = JournalError(.write, operation: "pwrite", path: "/j/1.seg", errno: ENOSPC)
        #expect(e.description.contains("pwrite /j/1.seg") && e.description.contains("errno \(ENOSPC)"))
    }
}
