import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

/// One broker per data folder (`DataFolderLock`), and `metro backup
/// repair-journal`: a damaged sealed segment put back from a backup's copy with
/// nothing lost, not even the events journaled after the backup; refused while
/// the broker runs, and a backup copy that is not the same whole segment is
/// never used.
extension BrokerSystemTests {
    @Test func aSecondBrokerOnTheSameDataFolderIsRefusedAndTheFirstGoesOn() async throws {
        let broker = try await BrokerHarness()
        func second() throws -> MetroProcess {
            let e = try TestPorts.freeEndpoints(4)
            return try MetroProcess([
                "broker", "--ingest", e[0], "--publish", e[1], "--events", e[2], "--consume", e[3],
                "--metrics", "", "--data-dir", broker.journalPath,
            ])
        }
        let refused = try second()
        #expect(await refused.waitForExit(timeout: .seconds(30)) == 1)
        #expect(
            await refused.stderrShows("is in use by another broker (pid \(broker.process.pid))"),
            "\(refused.stderrText)")
        // The first one is untouched: it still takes and acknowledges events.
        let publisher = try Publisher(.init(ingest: broker.ingest))
        let seqs = try await closing(publisher) { try await publishMany(publisher, count: 5, topics: ["lock.a"]) }
        let head = try await broker.stats().headSeq
        #expect(seqs.count == 5 && head == seqs.max())
        // kill -9 leaves no stale claim: the kernel drops the lock with the process.
        await broker.kill9()
        let after = try second()
        let ready = try await after.waitUntilReady()
        #expect(ready["dataDir"] == broker.journalPath)
        after.kill(SIGTERM)
        #expect(await after.waitForExit(timeout: .seconds(20)) == 0)
    }

    @Test func aDamagedSegmentIsRepairedFromABackupWithNothingLost() async throws {
        let broker = try await BrokerHarness(
            config: "heartbeatIntervalMs: 1000\njournal:\n  fsync: never\n  segmentBytes: 65536\n", folder: "broker")
        let work = try TemporaryDirectory()
        let backup = work.path + "/backup"
        let publisher = try Publisher(.init(ingest: broker.ingest))
        _ = try await publishMany(publisher, count: 300, topics: ["job.d"], idPrefix: "before", payloadBytes: 1000)
        let backupRun = try MetroProcess(["backup", "--data-dir", broker.dataDir.path, "--out", backup])
        #expect(await backupRun.waitForExit(timeout: .seconds(60)) == 0, "\(backupRun.stderrText)")
        // Journaled after the backup: a restore of the whole folder would lose these.
        _ = try await closing(publisher) {
            try await publishMany(publisher, count: 100, topics: ["job.d"], idPrefix: "after", payloadBytes: 1000)
        }
        func repair(from: String) async throws -> (Int32?, String) {
            let p = try MetroProcess(["backup", "repair-journal", "--from", from, "--data-dir", broker.dataDir.path])
            let status = await p.waitForExit(timeout: .seconds(60))
            return (status, p.stdoutLines.joined(separator: "\n"))
        }
        let (whileRunning, refusal) = try await repair(from: backup)
        #expect(whileRunning == 1)
        #expect(refusal.contains("refused: the data folder") && refusal.contains("(pid \(broker.process.pid))"))

        #expect(await broker.stop() == 0)
        let (files, offset, seq) = try damageFortiethRecord(broker)
        // A backup whose copy of that segment is damaged too is not used.
        let rotten = work.path + "/rotten"
        try FileManager.default.copyItem(atPath: backup, toPath: rotten)
        let rottenSegment = rotten + "/broker/" + files[0]
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: rottenSegment)))
        bytes[offset + 30] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: rottenSegment))
        let (fromRotten, rottenReport) = try await repair(from: rotten)
        #expect(fromRotten == 1, "\(rottenReport)")
        #expect(
            rottenReport.contains("\(files[0]): damaged record at offset \(offset) (seq \(seq)): NOT repaired")
                && rottenReport.contains("the backup's copy is damaged too"), "\(rottenReport)")

        // Nor is a backup of another journal, though its segments have the same names.
        let other = try await BrokerHarness(
            config: "heartbeatIntervalMs: 1000\njournal:\n  fsync: never\n  segmentBytes: 65536\n", folder: "broker")
        let otherPublisher = try Publisher(.init(ingest: other.ingest))
        _ = try await closing(otherPublisher) {
            try await publishMany(otherPublisher, count: 300, topics: ["job.d"], idPrefix: "beford", payloadBytes: 1000)
        }
        #expect(await other.stop() == 0)
        let otherBackup = work.path + "/other"
        let otherRun = try MetroProcess(["backup", "--data-dir", other.dataDir.path, "--out", otherBackup])
        #expect(await otherRun.waitForExit(timeout: .seconds(60)) == 0, "\(otherRun.stderrText)")
        let (fromOther, otherReport) = try await repair(from: otherBackup)
        #expect(fromOther == 1, "\(otherReport)")
        #expect(
            otherReport.contains("NOT repaired") && otherReport.contains("a backup of another journal?"),
            "\(otherReport)")

        let (repaired, report) = try await repair(from: backup)
        #expect(repaired == 0, "\(report)")
        #expect(
            report.contains("\(files[0]): damaged record at offset \(offset) (seq \(seq)): repaired from the backup")
                && report.contains("OK: 1 segment repaired, nothing lost"), "\(report)")
        let (again, second) = try await repair(from: backup)
        #expect(again == 0 && second.contains("nothing to repair"), "\(second)")
        #expect(!FileManager.default.fileExists(atPath: broker.journalPath + "/" + files[0] + ".repair"))

        // Every event is read back, those journaled after the backup too, in seq order.
        try await broker.restart()
        let replayed = try await replay(
            on: broker.consume,
            .init(id: Array("repaired".utf8), start: .seq(0), credit: 0, prefixes: [Array("job.".utf8)]),
            window: 200)
        #expect(replayed.error == nil, "\(String(describing: replayed.error))")
        let ids = Set(replayed.events.map { String(decoding: $0.eventID, as: UTF8.self) })
        #expect(replayed.events.count == 400)
        #expect(ids == Set((0..<300).map { "before-\($0)" } + (0..<100).map { "after-\($0)" }))
        #expect(replayed.events.map(\.seq) == replayed.events.map(\.seq).sorted())
        #expect(await broker.stop() == 0)
    }
}
